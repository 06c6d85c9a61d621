// Parameters and gradients in f32. The first part of every kernel's module: it names the
// gradients' element type, and the f16 copy of the parameters, which this precision has not.

alias GradVec4 = vec4<f32>;

fn store_half_params(i: u32, w: vec4<f32>, lanes: vec4<bool>) {}
