//! An f64 CPU port of the Fashion-MNIST network of `examples/train_fashion`, with the same
//! tensor layouts: the mean loss of a batch and the gradient of every tensor, for comparing
//! with the backward kernels. And an f64 port of the Adam kernel.

/// The network's parameters, as the arena holds them (in `TENSORS` order):
/// conv_w `[channel][ky * 5 + kx]`, conv_b, w1 feature-major `[feature * hidden + unit]`
/// (feature = channel * 144 + y * 12 + x), b1, w2 `[class * hidden + unit]`, b2.
pub struct Params {
    pub channels: usize,
    pub hidden: usize,
    pub tensors: [Vec<f64>; 6],
}

pub struct Batch {
    pub loss: f64,
    pub grads: [Vec<f64>; 6],
}

const SIDE: usize = 28;
const KERNEL: usize = 5;
const TAPS: usize = 25;
const POOLED_SIDE: usize = 12;
const POOLED: usize = 144;
const CLASSES: usize = 10;

/// Forward and backward over `images` (784 bytes each) and `labels`: the mean loss and its
/// gradient. Max-pool ties go to the first of (0,0), (0,1), (1,0), (1,1), as on the GPU.
pub fn forward_backward(params: &Params, images: &[u8], labels: &[u32]) -> Batch {
    let (channels, hidden) = (params.channels, params.hidden);
    let features = channels * POOLED;
    let [conv_w, conv_b, w1, b1, w2, b2] = &params.tensors;
    let rows = labels.len();
    let mut grads = params.tensors.clone().map(|t| vec![0.0; t.len()]);
    let mut loss = 0.0;
    for (row, &label) in labels.iter().enumerate() {
        let x: Vec<f64> = images[row * SIDE * SIDE..(row + 1) * SIDE * SIDE]
            .iter()
            .map(|&p| f64::from(p) / 255.0)
            .collect();
        // Convolution, max-pool (winner kept), bias, ReLU.
        let mut pooled = vec![0.0; features];
        let mut winner = vec![(0usize, 0usize); features];
        for c in 0..channels {
            for py in 0..POOLED_SIDE {
                for px in 0..POOLED_SIDE {
                    let mut best = (f64::NEG_INFINITY, (0, 0));
                    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let (cy, cx) = (2 * py + dy, 2 * px + dx);
                        let mut sum = 0.0;
                        for ky in 0..KERNEL {
                            for kx in 0..KERNEL {
                                sum += conv_w[c * TAPS + ky * KERNEL + kx]
                                    * x[(cy + ky) * SIDE + cx + kx];
                            }
                        }
                        if sum > best.0 {
                            best = (sum, (cy, cx));
                        }
                    }
                    let f = c * POOLED + py * POOLED_SIDE + px;
                    pooled[f] = (best.0 + conv_b[c]).max(0.0);
                    winner[f] = best.1;
                }
            }
        }
        let h: Vec<f64> = (0..hidden)
            .map(|j| {
                let sum: f64 = (0..features).map(|f| w1[f * hidden + j] * pooled[f]).sum();
                (sum + b1[j]).max(0.0)
            })
            .collect();
        let logits: Vec<f64> = (0..CLASSES)
            .map(|c| b2[c] + (0..hidden).map(|j| w2[c * hidden + j] * h[j]).sum::<f64>())
            .collect();
        let largest = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let normalizer: f64 = logits.iter().map(|l| (l - largest).exp()).sum();
        loss += normalizer.ln() + largest - logits[label as usize];
        let dlogits: Vec<f64> = (0..CLASSES)
            .map(|c| {
                let p = (logits[c] - largest).exp() / normalizer;
                (p - if c == label as usize { 1.0 } else { 0.0 }) / rows as f64
            })
            .collect();
        let mut dh = vec![0.0; hidden];
        for c in 0..CLASSES {
            grads[5][c] += dlogits[c];
            for j in 0..hidden {
                grads[4][c * hidden + j] += dlogits[c] * h[j];
            }
        }
        for j in 0..hidden {
            if h[j] > 0.0 {
                dh[j] = (0..CLASSES).map(|c| w2[c * hidden + j] * dlogits[c]).sum();
            }
            grads[3][j] += dh[j];
        }
        for f in 0..features {
            for j in 0..hidden {
                grads[2][f * hidden + j] += dh[j] * pooled[f];
            }
            if pooled[f] > 0.0 {
                let dp: f64 = (0..hidden).map(|j| w1[f * hidden + j] * dh[j]).sum();
                let c = f / POOLED;
                let (cy, cx) = winner[f];
                for ky in 0..KERNEL {
                    for kx in 0..KERNEL {
                        grads[0][c * TAPS + ky * KERNEL + kx] += dp * x[(cy + ky) * SIDE + cx + kx];
                    }
                }
                grads[1][c] += dp;
            }
        }
    }
    Batch {
        loss: loss / rows as f64,
        grads,
    }
}

/// `steps` Adam steps (`torch.optim.Adam`, no weight decay) of `params` with the gradient
/// `grads` at every step, with the kernel's f32 constants.
pub fn adam(params: &mut [f64], grads: &[f64], lr: f64, steps: usize) {
    let (beta1, beta2, eps) = (f64::from(0.9f32), f64::from(0.999f32), f64::from(1e-8f32));
    let mut m = vec![0.0; params.len()];
    let mut v = vec![0.0; params.len()];
    for t in 1..=steps {
        for i in 0..params.len() {
            m[i] = beta1 * m[i] + (1.0 - beta1) * grads[i];
            v[i] = beta2 * v[i] + (1.0 - beta2) * grads[i] * grads[i];
            let m_hat = m[i] / (1.0 - beta1.powi(t as i32));
            let v_hat = v[i] / (1.0 - beta2.powi(t as i32));
            params[i] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
    }
}
