//! Whatever a caller passes (configs out of range, NaN and infinite values, wrong sizes,
//! unknown names, bad loss buffers), the crate answers with `Ok` or a typed `Err`, never a
//! panic, on a real adapter.

mod common;

use std::sync::OnceLock;

use proptest::prelude::*;
use wgpu_alig::{Alig, AligConfig, Arena, Gpu, Loss, MomentumKind};

fn shared_gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(common::gpu)
}

const NAMES: [&str; 4] = ["a", "b", "c", "d"];

#[derive(Clone, Debug)]
enum Call {
    WriteParams(usize, usize),
    WriteGrads(usize, usize),
    HostStep(f32),
    BufferStep {
        offset: u64,
        size: u64,
        copy_src: bool,
    },
    ReadStats,
    ReadParams(usize),
    ReadMomentum(usize),
}

/// Mostly values in `valid`, so that most cases get past validation and run steps; now and
/// then anything at all (NaN, infinities, subnormals, negatives).
fn mostly(valid: std::ops::Range<f32>) -> impl Strategy<Value = f32> {
    prop_oneof![9 => valid, 1 => proptest::num::f32::ANY]
}

fn any_f32() -> impl Strategy<Value = f32> {
    mostly(-2.0..2.0)
}

fn config() -> impl Strategy<Value = AligConfig> {
    (
        proptest::option::of(mostly(1e-3..10.0)),
        mostly(0.0..0.99),
        any::<bool>(),
        mostly(0.0..1e-3),
        mostly(-1.0..1.0),
        mostly(0.1..2.0),
        proptest::option::of(mostly(0.1..100.0)),
        0u32..20,
    )
        .prop_map(
            |(max_lr, momentum, adjusted, eps, f_star, c, max_norm, stats_capacity)| AligConfig {
                max_lr,
                momentum,
                momentum_kind: if adjusted {
                    MomentumKind::Adjusted
                } else {
                    MomentumKind::Nesterov
                },
                eps,
                f_star,
                c,
                max_norm,
                stats_capacity,
            },
        )
}

/// Mostly small tensors; now and then one no device could hold, or that overflows sizes.
fn tensor_len() -> impl Strategy<Value = usize> {
    prop_oneof![20 => 0usize..600, 1 => Just(1usize << 40), 1 => Just(usize::MAX)]
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        (0..NAMES.len(), 0usize..600).prop_map(|(n, len)| Call::WriteParams(n, len)),
        (0..NAMES.len(), 0usize..600).prop_map(|(n, len)| Call::WriteGrads(n, len)),
        any_f32().prop_map(Call::HostStep),
        (0u64..40, 4u64..32, any::<bool>()).prop_map(|(offset, size, copy_src)| Call::BufferStep {
            offset,
            size: size * 4,
            copy_src
        }),
        Just(Call::ReadStats),
        (0..NAMES.len()).prop_map(Call::ReadParams),
        (0..NAMES.len()).prop_map(Call::ReadMomentum),
    ]
}

fn run(tensors: &[(usize, usize)], config: AligConfig, calls: &[Call]) {
    let gpu = shared_gpu();
    let (device, queue) = (&gpu.device, &gpu.queue);
    let tensors: Vec<(&str, usize)> = tensors.iter().map(|&(n, len)| (NAMES[n], len)).collect();
    let Ok(arena) = Arena::new(device, &tensors) else {
        return;
    };
    let Ok(mut alig) = Alig::new(device, &arena, config) else {
        return;
    };
    for call in calls {
        let _ = match call {
            Call::WriteParams(n, len) => arena.write_params(queue, NAMES[*n], &vec![0.5; *len]),
            Call::WriteGrads(n, len) => arena.write_grads(queue, NAMES[*n], &vec![-0.25; *len]),
            Call::HostStep(loss) => alig.step(device, queue, Loss::Host(*loss)).map(drop),
            Call::BufferStep {
                offset,
                size,
                copy_src,
            } => {
                let usage = if *copy_src {
                    wgpu::BufferUsages::COPY_SRC
                } else {
                    wgpu::BufferUsages::STORAGE
                };
                let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: *size,
                    usage,
                    mapped_at_creation: false,
                });
                alig.step(
                    device,
                    queue,
                    Loss::Buffer {
                        buffer: &buffer,
                        offset: *offset,
                    },
                )
                .map(drop)
            }
            Call::ReadStats => alig.read_stats_blocking(device, queue).map(drop),
            Call::ReadParams(n) => arena.read_params(device, queue, NAMES[*n]).map(drop),
            Call::ReadMomentum(n) => alig.read_momentum(device, queue, NAMES[*n]).map(drop),
        };
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_input_panics(
        tensors in proptest::collection::vec((0..NAMES.len(), tensor_len()), 0..5),
        config in config(),
        calls in proptest::collection::vec(call(), 0..12),
    ) {
        run(&tensors, config, &calls);
    }
}
