// Adam's step number, kept on the GPU: one thread adds one before each update (a separate
// dispatch, so that every thread of the update reads the same t).

@group(0) @binding(0) var<storage, read_write> step_count: array<u32>;

@compute @workgroup_size(1)
fn adam_tick() {
    step_count[0] += 1u;
}
