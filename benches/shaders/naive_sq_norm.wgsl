// The baseline's norm: what a user without an arena writes. One dispatch per tensor, each
// workgroup sums g*g over its grid-stride share and writes one partial; the host reads the
// partials of every tensor back and adds them up. After the crate's precision prelude
// (`GradVec4`: f32 or f16 gradients, summed in f32).

struct TensorPartials {
    first: u32, // index of this tensor's first partial in `partials`
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> tensor: TensorPartials;
@group(0) @binding(1) var<storage, read> grads: array<GradVec4>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

const WG_SIZE: u32 = 256u;

var<workgroup> sums: array<f32, WG_SIZE>;

@compute @workgroup_size(WG_SIZE)
fn naive_sq_norm(
    @builtin(global_invocation_id) global_id: vec3<u32>,
    @builtin(local_invocation_index) local_index: u32,
    @builtin(workgroup_id) workgroup_id: vec3<u32>,
    @builtin(num_workgroups) num_workgroups: vec3<u32>,
) {
    let len = arrayLength(&grads);
    let stride = num_workgroups.x * WG_SIZE;
    var sum = vec4<f32>(0.0);
    for (var i = global_id.x; i < len; i = i + stride) {
        let g = vec4<f32>(grads[i]);
        sum = sum + g * g;
    }
    sums[local_index] = (sum.x + sum.y) + (sum.z + sum.w);
    workgroupBarrier();
    for (var half = WG_SIZE / 2u; half > 0u; half = half / 2u) {
        if local_index < half {
            sums[local_index] = sums[local_index] + sums[local_index + half];
        }
        workgroupBarrier();
    }
    if local_index == 0u {
        partials[tensor.first + workgroup_id.x] = sums[0];
    }
}
