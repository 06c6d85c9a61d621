// Declarations shared by the classifier kernels of the examples (a dense HIDDEN -> CLASSES
// output layer on top of a model-specific trunk). Every kernel's module is this file, then
// the model's own declarations, then the kernel's file. `BatchDesc` has a `#[repr(C)]` twin
// in batches.rs.

const CLASSES: u32 = 10u;

// Hidden units of the last hidden layer, set by the host through the pipeline's constants.
override HIDDEN: u32 = 128u;

// The samples a dispatch works on: entries start .. start + count of the sample index buffer.
// Activations are stored by row, row r being the sample at index position start + r.
struct BatchDesc {
    start: u32,
    count: u32,
    inv_count: f32, // 1 / count: the loss and its gradient are means over the batch
    out_slot: u32,  // where `batch_loss` writes (mean loss, correct predictions)
}
