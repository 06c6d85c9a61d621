// Declarations shared by the kernels of the digits MLP (64 -> HIDDEN ReLU -> 10). Every
// kernel's module is this file followed by the kernel's own file. `BatchDesc` has a
// `#[repr(C)]` twin in batches.rs.

const INPUTS: u32 = 64u; // 8x8 pixels
const CLASSES: u32 = 10u;

// Hidden units, set by the host through the pipeline's constants.
override HIDDEN: u32 = 128u;

// The samples a dispatch works on: entries start .. start + count of the sample index buffer.
// Activations are stored by row, row r being the sample at index position start + r.
struct BatchDesc {
    start: u32,
    count: u32,
    inv_count: f32, // 1 / count: the loss and its gradient are means over the batch
    out_slot: u32,  // where `batch_loss` writes (mean loss, correct predictions)
}
