// Declarations of the Fashion-MNIST network, after common/classifier.wgsl:
//     28x28 image -> conv 5x5, CHANNELS filters (valid) -> ReLU -> max-pool 2x2
//     -> FEATURES = CHANNELS x 12 x 12 -> dense HIDDEN, ReLU -> dense CLASSES
// Pooled activations are stored by row, channel-major: row * FEATURES + channel * 144 + y * 12 + x.

const SIDE: u32 = 28u;       // pixels per image side
const PIXELS: u32 = 784u;    // SIDE * SIDE
const KERNEL: u32 = 5u;      // convolution kernel side
const TAPS: u32 = 25u;       // KERNEL * KERNEL
const POOLED_SIDE: u32 = 12u; // (SIDE - KERNEL + 1) / 2
const POOLED: u32 = 144u;    // POOLED_SIDE^2 per channel

// Convolution filters, set by the host through the pipeline's constants.
override CHANNELS: u32 = 8u;
override FEATURES: u32 = CHANNELS * POOLED;
