// Reading a pixel, for the kernels that read images; each declares the `pixels` binding
// (bytes, four to a word, little-endian).

// Pixel `offset` of the image that starts at byte `image_base`, in [0, 1].
fn pixel(image_base: u32, offset: u32) -> f32 {
    let i = image_base + offset;
    return f32((pixels[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu) * (1.0 / 255.0);
}
