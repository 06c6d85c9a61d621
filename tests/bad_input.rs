//! Bad input never corrupts a model: non-finite losses and gradients skip the step with
//! parameters and momentum untouched bit for bit, a loss under the floor gives no ascent, and
//! every invalid call is a typed error.

mod common;

use common::{bits, gpu, step_and_record, Rng};
use wgpu::util::DeviceExt;
use wgpu_alig::{Alig, AligConfig, Arena, Error, Gpu, Loss, StepFlags};

const SIZES: [(&str, usize); 2] = [("a", 257), ("b", 1000)];

/// An arena with random parameters and an optimizer with momentum that has taken 3 steps, so
/// that the momentum is non-zero.
fn warmed_up(gpu: &Gpu, config: AligConfig) -> (Arena, Alig) {
    let mut rng = Rng::new(3);
    let arena = Arena::new(&gpu.device, &SIZES).unwrap();
    let mut alig = Alig::new(&gpu.device, &arena, config).unwrap();
    for (name, n) in SIZES {
        arena
            .write_params(&gpu.queue, name, &rng.vec_f32(n, -1.0, 1.0))
            .unwrap();
    }
    for _ in 0..3 {
        set_grads(gpu, &arena, &mut rng, None);
        alig.step(&gpu.device, &gpu.queue, Loss::Host(0.5)).unwrap();
    }
    (arena, alig)
}

/// Random gradients, with `poison` written at element 100 of tensor "b" when given.
fn set_grads(gpu: &Gpu, arena: &Arena, rng: &mut Rng, poison: Option<f32>) {
    for (name, n) in SIZES {
        let mut grads = rng.vec_f32(n, -1.0, 1.0);
        if let (Some(value), "b") = (poison, name) {
            grads[100] = value;
        }
        arena.write_grads(&gpu.queue, name, &grads).unwrap();
    }
}

/// Parameters and momentum of every tensor of [`SIZES`], as bits.
fn state_bits(gpu: &Gpu, arena: &Arena, alig: &Alig) -> Vec<Vec<u32>> {
    common::state_bits(gpu, arena, alig, &SIZES.map(|(name, _)| name))
}

#[test]
fn non_finite_losses_and_gradients_skip_the_step_and_keep_the_state() {
    let gpu = gpu();
    let (arena, mut alig) = warmed_up(&gpu, AligConfig::paper(0.1));
    let before = state_bits(&gpu, &arena, &alig);
    // Non-finite losses at non-zero offsets of a loss buffer.
    let gpu_losses = gpu
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(&[0.0f32, f32::NAN, f32::INFINITY]),
            usage: wgpu::BufferUsages::COPY_SRC,
        });
    let mut rng = Rng::new(9);
    let cases: [(&str, Loss, Option<f32>, StepFlags); 9] = [
        (
            "NaN host loss",
            Loss::Host(f32::NAN),
            None,
            StepFlags::SKIPPED_LOSS,
        ),
        (
            "+inf host loss",
            Loss::Host(f32::INFINITY),
            None,
            StepFlags::SKIPPED_LOSS,
        ),
        (
            "-inf host loss",
            Loss::Host(f32::NEG_INFINITY),
            None,
            StepFlags::SKIPPED_LOSS,
        ),
        (
            "NaN GPU loss",
            Loss::Buffer {
                buffer: &gpu_losses,
                offset: 4,
            },
            None,
            StepFlags::SKIPPED_LOSS,
        ),
        (
            "+inf GPU loss",
            Loss::Buffer {
                buffer: &gpu_losses,
                offset: 8,
            },
            None,
            StepFlags::SKIPPED_LOSS,
        ),
        (
            "NaN gradient",
            Loss::Host(0.5),
            Some(f32::NAN),
            StepFlags::SKIPPED_GRAD,
        ),
        (
            "+inf gradient",
            Loss::Host(0.5),
            Some(f32::INFINITY),
            StepFlags::SKIPPED_GRAD,
        ),
        (
            "-inf gradient",
            Loss::Host(0.5),
            Some(f32::NEG_INFINITY),
            StepFlags::SKIPPED_GRAD,
        ),
        (
            "finite gradient whose square overflows",
            Loss::Host(0.5),
            Some(1e20),
            StepFlags::SKIPPED_NORM_OVERFLOW,
        ),
    ];
    // Every other input is valid, so the one skip reason is the only flag.
    for (what, loss, poison, flags) in cases {
        set_grads(&gpu, &arena, &mut rng, poison);
        let record = step_and_record(&gpu, &mut alig, loss);
        assert_eq!(record.flags, flags, "{what}");
        assert!(record.flags.skipped(), "{what}");
        assert_eq!(record.gamma, 0.0, "{what}");
        assert_eq!(
            state_bits(&gpu, &arena, &alig),
            before,
            "{what}: state changed"
        );
    }
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!((stats.steps, stats.skipped), (12, 9));

    // The optimizer is not stuck: the next good step moves the parameters.
    set_grads(&gpu, &arena, &mut rng, None);
    alig.step(&gpu.device, &gpu.queue, Loss::Host(0.5)).unwrap();
    assert_ne!(state_bits(&gpu, &arena, &alig), before);
}

#[test]
fn a_loss_at_or_below_the_floor_gives_no_ascent() {
    let gpu = gpu();
    for (f_star, loss) in [(0.0, -1.0), (0.5, 0.2), (0.5, 0.5)] {
        let config = AligConfig {
            f_star,
            ..AligConfig::default()
        };
        let (arena, mut alig) = warmed_up(&gpu, config);
        let before = state_bits(&gpu, &arena, &alig);
        set_grads(&gpu, &arena, &mut Rng::new(1), None);
        let record = step_and_record(&gpu, &mut alig, Loss::Host(loss));
        assert_eq!(
            record.flags,
            StepFlags::FLOOR_REACHED,
            "f_star {f_star}, loss {loss}"
        );
        assert_eq!((record.gamma_hat, record.gamma), (0.0, 0.0));
        // Without momentum, gamma = 0 leaves the parameters exactly where they were.
        assert_eq!(
            state_bits(&gpu, &arena, &alig),
            before,
            "f_star {f_star}, loss {loss}"
        );
    }
}

#[test]
fn a_step_size_beyond_f32_is_skipped_without_max_lr_and_clipped_with_it() {
    let gpu = gpu();
    // ||g||^2 = 4e-38 (a normal f32), so 100 / ||g||^2 = 2.5e39 > f32::MAX.
    let (w, g, loss) = (3e-19f32, 2e-19f32, Loss::Host(100.0));

    // Without max_lr: skipped, after an ordinary first step that leaves non-zero momentum.
    let config = AligConfig {
        eps: 0.0,
        momentum: 0.9,
        ..AligConfig::default()
    };
    let arena = Arena::new(&gpu.device, &[("w", 1)]).unwrap();
    arena.write_params(&gpu.queue, "w", &[w]).unwrap();
    arena.write_grads(&gpu.queue, "w", &[1.0]).unwrap();
    let mut alig = Alig::new(&gpu.device, &arena, config).unwrap();
    alig.step(&gpu.device, &gpu.queue, Loss::Host(0.5)).unwrap();
    arena.write_grads(&gpu.queue, "w", &[g]).unwrap();
    let before = common::state_bits(&gpu, &arena, &alig, &["w"]);
    assert_ne!(before[1], bits(&[0.0]), "the first step left no momentum");
    let record = step_and_record(&gpu, &mut alig, loss);
    assert_eq!(record.flags, StepFlags::SKIPPED_STEP_OVERFLOW);
    assert_eq!(record.gamma, 0.0);
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!((stats.steps, stats.skipped), (2, 1));
    assert_eq!(
        common::state_bits(&gpu, &arena, &alig, &["w"]),
        before,
        "the skipped step changed the state"
    );

    // With max_lr: clipped to it, and the step taken.
    let max_lr = 0.5;
    let config = AligConfig {
        eps: 0.0,
        max_lr: Some(max_lr),
        ..AligConfig::default()
    };
    let arena = Arena::new(&gpu.device, &[("w", 1)]).unwrap();
    arena.write_params(&gpu.queue, "w", &[w]).unwrap();
    arena.write_grads(&gpu.queue, "w", &[g]).unwrap();
    let mut alig = Alig::new(&gpu.device, &arena, config).unwrap();
    let record = step_and_record(&gpu, &mut alig, loss);
    assert_eq!(record.flags, StepFlags::CLIPPED);
    assert_eq!(record.gamma, max_lr);
    // Without momentum w <- w - max_lr * g, where max_lr * g is exact (max_lr is a power of
    // two): one rounding, the same on any GPU.
    let params = arena.read_params(&gpu.device, &gpu.queue, "w").unwrap();
    assert_eq!(bits(&params), bits(&[w - max_lr * g]));
}

#[test]
fn a_zero_gradient_with_zero_eps_gives_a_zero_step_not_nan() {
    let gpu = gpu();
    let config = AligConfig {
        eps: 0.0,
        ..AligConfig::default()
    };
    let arena = Arena::new(&gpu.device, &[("w", 5)]).unwrap();
    arena.write_params(&gpu.queue, "w", &[1.0; 5]).unwrap();
    let mut alig = Alig::new(&gpu.device, &arena, config).unwrap();
    let record = step_and_record(&gpu, &mut alig, Loss::Host(1.0));
    assert_eq!((record.gamma, record.flags), (0.0, StepFlags(0)));
    assert_eq!(
        arena.read_params(&gpu.device, &gpu.queue, "w").unwrap(),
        [1.0; 5]
    );
}

#[test]
fn invalid_calls_are_typed_errors_and_record_nothing() {
    let gpu = gpu();
    let device = &gpu.device;
    assert!(matches!(Arena::new(device, &[]), Err(Error::EmptyArena)));
    assert!(matches!(
        Arena::new(device, &[("a", 0)]),
        Err(Error::EmptyTensor(_))
    ));
    assert!(matches!(
        Arena::new(device, &[("a", 1), ("a", 1)]),
        Err(Error::DuplicateTensor(_))
    ));
    assert!(matches!(
        Arena::new(device, &[("huge", 1 << 40)]),
        Err(Error::ArenaTooLarge { what: "buffer", .. })
    ));

    let arena = Arena::new(device, &[("a", 4)]).unwrap();
    assert!(matches!(
        arena.write_params(&gpu.queue, "b", &[0.0; 4]),
        Err(Error::UnknownTensor(_))
    ));
    assert!(matches!(
        arena.write_grads(&gpu.queue, "a", &[0.0; 3]),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(matches!(
        arena.param_binding("b"),
        Err(Error::UnknownTensor(_))
    ));
    for config in [
        AligConfig {
            max_lr: Some(-1.0),
            ..AligConfig::default()
        },
        AligConfig {
            max_lr: Some(f32::NAN),
            ..AligConfig::default()
        },
        AligConfig {
            momentum: 1.0,
            ..AligConfig::default()
        },
        AligConfig {
            eps: -1.0,
            ..AligConfig::default()
        },
    ] {
        assert!(Alig::new(device, &arena, config).is_err(), "{config:?}");
    }

    let mut alig = Alig::new(device, &arena, AligConfig::default()).unwrap();
    let loss = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 16,
        usage: wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let no_copy = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 16,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    for (offset, buffer) in [(2, &loss), (16, &loss), (u64::MAX - 1, &loss)] {
        let result = alig.step(device, &gpu.queue, Loss::Buffer { buffer, offset });
        assert!(
            matches!(result, Err(Error::LossOffset { .. })),
            "offset {offset}: {result:?}"
        );
    }
    let result = alig.step(
        device,
        &gpu.queue,
        Loss::Buffer {
            buffer: &no_copy,
            offset: 0,
        },
    );
    assert!(matches!(result, Err(Error::LossBufferUsage)), "{result:?}");
    assert_eq!(
        alig.read_stats_blocking(device, &gpu.queue).unwrap().steps,
        0
    );
}

#[test]
fn a_stats_capacity_past_the_binding_limit_names_the_setting() {
    let gpu = common::gpu_with(wgpu_alig::GpuRequest {
        max_storage_binding: Some(1 << 20),
        ..wgpu_alig::GpuRequest::default()
    });
    let arena = Arena::new(&gpu.device, &[("w", 10)]).unwrap();
    let max = AligConfig::max_stats_capacity(&gpu.device.limits());
    assert_eq!(
        max,
        ((1 << 20) - 32) / std::mem::size_of::<wgpu_alig::StepRecord>() as u32,
        "header and records in one binding"
    );
    let config = |stats_capacity| AligConfig {
        stats_capacity,
        ..AligConfig::default()
    };
    Alig::new(&gpu.device, &arena, config(max)).unwrap();
    let result = Alig::new(&gpu.device, &arena, config(max + 1));
    assert!(
        matches!(result, Err(Error::StatsCapacityTooLarge { capacity, max: m }) if capacity == max + 1 && m == max),
        "{result:?}"
    );
}
