// Gradients in f16 (the engine's backward writes them), parameters in f32. The first part of
// every kernel's module (`enable` must come before any declaration).
enable f16;

alias GradVec4 = vec4<f16>;

fn store_half_params(i: u32, w: vec4<f32>, lanes: vec4<bool>) {}
