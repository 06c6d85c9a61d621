// Declarations of the digits MLP (64 -> HIDDEN ReLU -> 10), after common/classifier.wgsl.

const INPUTS: u32 = 64u; // 8x8 pixels
