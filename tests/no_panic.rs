//! Whatever a caller passes (configs out of range, NaN and infinite values, huge and subnormal
//! parameters under projection, wrong sizes, unknown names, bad loss buffers (mapped, mapped
//! in part, with a map pending, destroyed), reads since any step, long runs of setter calls,
//! the device of another instance, a device lost midway, the calls of a sharded step out of
//! order or with bad slots), on arenas of every precision
//! (the f16 ones where the device has `SHADER_F16`; elsewhere their typed refusal) and with
//! every kind of loss scale, the crate answers with `Ok` or a typed `Err`, never a panic, on
//! a real adapter.

mod common;

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestRunner;
use wgpu_alig::{
    Alig, AligConfig, Arena, Error, Gpu, Loss, LossScale, MomentumKind, NormSlot, Precision,
};

const CASES: u32 = 64;

/// Cases that built an f16 arena (none on a device without `SHADER_F16`).
static F16_ARENAS: AtomicU32 = AtomicU32::new(0);

/// The devices the cases share: owned by the test and dropped before the process exits. Kept
/// in statics, they were still alive at exit, the likely cause of one CI run whose process
/// crashed (lavapipe, SIGSEGV) after every case had passed.
struct Devices {
    /// The device of the cases that do not lose theirs.
    shared: Gpu,
    /// A device of a second instance: wgpu compares it equal to `shared`'s.
    other: Gpu,
    /// A second device of `shared`'s instance, where the driver opens one.
    sibling: Option<Gpu>,
}

/// Tensor `k` is named `NAMES[k]`, unless a case renames one to collide.
const NAMES: [&str; 4] = ["a", "b", "c", "d"];

/// The name a call uses for a tensor the arena does not have.
const UNKNOWN: &str = "unknown";

/// One of the arena's tensors; `None`: the [`UNKNOWN`] name.
type Target = Option<Index>;

#[derive(Clone, Debug)]
enum WriteLen {
    /// The length of the tensor written to.
    Exact,
    /// Any length, almost always wrong.
    Other(usize),
}

#[derive(Clone, Debug)]
enum Call {
    WriteParams {
        tensor: Target,
        len: WriteLen,
        value: f32,
    },
    WriteGrads {
        tensor: Target,
        len: WriteLen,
        value: f32,
    },
    HostStep(f32),
    BufferStep {
        loss: f32,
        offset: u64,
        size: u64,
        copy_src: bool,
        state: BufferState,
    },
    ReadStats,
    /// The records since step `since` (any value, so often past the last step).
    ReadStatsSince(u32),
    /// `count` settings of group 0's `max_lr` in a row, then a step.
    SetMaxLrs {
        count: u32,
        max_lr: f32,
    },
    ReadParams(Target),
    /// The f16 copy of the parameters: refused unless the arena is `Precision::F16`.
    ReadHalfParams(Target),
    ReadGrads(Target),
    ReadMomentum(Target),
    /// Where the backward pass reads the loss scale, bound by a kernel that reads it.
    ReadLossScale,
    /// A call given the device (and queue) of another instance: must be refused.
    OtherDevice(OtherDeviceCall),
    /// A step whose loss is in a buffer of a sibling device (same instance): must be refused.
    SiblingLoss(f32),
    /// The four calls of a sharded step, in order or not, each with a slot in a buffer of
    /// its own; then the step completed with good slots, so that later steps can run.
    Sharded {
        slots: Vec<Slot>,
        in_order: bool,
    },
    /// Destroys the device: every later call must still answer.
    LoseDevice,
}

/// What becomes of a loss buffer before its step: usable, or not (each must be refused).
#[derive(Clone, Copy, Debug, PartialEq)]
enum BufferState {
    Usable,
    Mapped,
    MappedInPart,
    MapPending,
    Destroyed,
}

/// A norm slot: its offset, its buffer's size, and whether the buffer can be copied both ways.
#[derive(Clone, Debug)]
struct Slot {
    offset: u64,
    size: u64,
    copy: bool,
}

#[derive(Clone, Debug)]
enum OtherDeviceCall {
    Build,
    Step(f32),
    ReadStats,
    ReadParams,
    ReadMomentum,
    SaveState,
}

/// Mostly values in `valid`; now and then anything at all (NaN, infinities, subnormals,
/// negatives).
fn mostly(valid: std::ops::Range<f32>) -> impl Strategy<Value = f32> {
    prop_oneof![9 => valid, 1 => proptest::num::f32::ANY]
}

/// As [`mostly`], but rarer: a config has six such fields, and any invalid one ends the case.
fn config_field(valid: std::ops::Range<f32>) -> impl Strategy<Value = f32> {
    prop_oneof![40 => valid, 1 => proptest::num::f32::ANY]
}

fn any_f32() -> impl Strategy<Value = f32> {
    mostly(-2.0..2.0)
}

/// Parameters: mostly ordinary, now and then huge (up to f32::MAX, where `||w||^2` leaves
/// f32) or subnormal, of either sign.
fn param_value() -> impl Strategy<Value = f32> {
    let sign = || prop_oneof![Just(1.0f32), Just(-1.0f32)];
    prop_oneof![
        8 => any_f32(),
        1 => (1e19f32..f32::MAX, sign()).prop_map(|(v, s)| v * s),
        1 => (1e-45f32..1e-38, sign()).prop_map(|(v, s)| v * s),
    ]
}

fn buffer_state() -> impl Strategy<Value = BufferState> {
    prop_oneof![
        12 => Just(BufferState::Usable),
        1 => Just(BufferState::Mapped),
        1 => Just(BufferState::MappedInPart),
        1 => Just(BufferState::MapPending),
        1 => Just(BufferState::Destroyed),
    ]
}

fn config() -> impl Strategy<Value = AligConfig> {
    (
        proptest::option::of(config_field(1e-3..10.0)),
        config_field(0.0..0.99),
        any::<bool>(),
        config_field(0.0..1e-3),
        config_field(-1.0..1.0),
        config_field(0.1..2.0),
        proptest::option::of(config_field(0.1..100.0)),
        0u32..20,
        loss_scale(),
    )
        .prop_map(
            |(max_lr, momentum, adjusted, eps, f_star, c, max_norm, stats_capacity, loss_scale)| {
                AligConfig {
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
                    loss_scale,
                }
            },
        )
}

/// Mostly none; now and then a fixed or dynamic scale, its values rarely out of range.
fn loss_scale() -> impl Strategy<Value = LossScale> {
    prop_oneof![
        6 => Just(LossScale::None),
        1 => config_field(1.0..1e5).prop_map(LossScale::Fixed),
        1 => (
            config_field(1.0..1e5),
            config_field(1.0..4.0),
            config_field(0.1..1.0),
            0u32..50,
        )
            .prop_map(|(initial, growth_factor, backoff_factor, growth_interval)| {
                LossScale::Dynamic {
                    initial,
                    growth_factor,
                    backoff_factor,
                    growth_interval,
                }
            }),
    ]
}

/// Mostly f32; often f16 gradients, or f16 gradients and parameters with an f32 master.
fn precision() -> impl Strategy<Value = Precision> {
    prop_oneof![
        2 => Just(Precision::F32),
        1 => Just(Precision::F16Grads),
        1 => Just(Precision::F16),
    ]
}

/// Mostly small tensors; now and then an empty one, one no device could hold, or one that
/// overflows sizes.
fn tensor_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        100 => 1usize..600,
        1 => Just(0usize),
        1 => Just(1usize << 40),
        1 => Just(usize::MAX),
    ]
}

/// (name index, length) of each tensor: distinct names, except that one case in ten renames
/// a tensor to a name that may already be taken; now and then no tensor at all.
fn tensors() -> impl Strategy<Value = Vec<(usize, usize)>> {
    (
        prop_oneof![
            1 => Just(Vec::new()),
            30 => proptest::collection::vec(tensor_len(), 1..=NAMES.len()),
        ],
        proptest::option::weighted(0.1, (any::<Index>(), 0..NAMES.len())),
    )
        .prop_map(|(lens, rename)| {
            let mut tensors: Vec<(usize, usize)> = lens.into_iter().enumerate().collect();
            if let (Some((which, name)), false) = (rename, tensors.is_empty()) {
                let which = which.index(tensors.len());
                tensors[which].0 = name;
            }
            tensors
        })
}

fn target() -> impl Strategy<Value = Target> {
    proptest::option::weighted(0.9, any::<Index>())
}

fn write_len() -> impl Strategy<Value = WriteLen> {
    prop_oneof![9 => Just(WriteLen::Exact), 1 => (0usize..600).prop_map(WriteLen::Other)]
}

/// Mostly a good slot; now and then misaligned, past the end, or without copy usages.
fn slot() -> impl Strategy<Value = Slot> {
    (
        prop_oneof![4 => (0u64..4).prop_map(|k| 4 * k), 1 => 0u64..24],
        prop_oneof![4 => Just(16u64), 1 => 0u64..24],
        proptest::bool::weighted(0.9),
    )
        .prop_map(|(offset, size, copy)| Slot { offset, size, copy })
}

/// Records call `k` of a sharded step (in its order) into `encoder`.
fn record_sharded_call(
    alig: &mut Alig,
    encoder: &mut wgpu::CommandEncoder,
    queue: &wgpu::Queue,
    k: usize,
    slot: NormSlot<'_>,
) -> wgpu_alig::Result<()> {
    match k {
        0 => alig.record_local_grad_norm(encoder, slot),
        1 => alig.record_global_update(encoder, queue, Loss::Host(1.0), slot),
        2 => alig.record_local_param_norm(encoder, slot),
        _ => alig.record_global_projection(encoder, slot),
    }
}

fn call() -> impl Strategy<Value = Call> {
    prop_oneof![
        2 => (target(), write_len(), param_value())
            .prop_map(|(tensor, len, value)| Call::WriteParams { tensor, len, value }),
        4 => (target(), write_len(), any_f32())
            .prop_map(|(tensor, len, value)| Call::WriteGrads { tensor, len, value }),
        3 => any_f32().prop_map(Call::HostStep),
        // Mostly aligned offsets into COPY_SRC buffers, so that most of these steps run.
        2 => (
            any_f32(),
            prop_oneof![3 => (0u64..10).prop_map(|k| 4 * k), 1 => 0u64..40],
            4u64..32,
            prop_oneof![3 => Just(true), 1 => Just(false)],
            buffer_state(),
        )
            .prop_map(|(loss, offset, size, copy_src, state)| Call::BufferStep {
                loss,
                offset,
                size: size * 4,
                copy_src,
                state,
            }),
        1 => Just(Call::ReadStats),
        1 => prop_oneof![0u32..40, Just(u32::MAX / 2), any::<u32>()].prop_map(Call::ReadStatsSince),
        1 => (prop_oneof![1u32..50, Just(3000u32)], config_field(1e-3..10.0))
            .prop_map(|(count, max_lr)| Call::SetMaxLrs { count, max_lr }),
        1 => target().prop_map(Call::ReadParams),
        1 => target().prop_map(Call::ReadHalfParams),
        1 => target().prop_map(Call::ReadGrads),
        1 => target().prop_map(Call::ReadMomentum),
        1 => Just(Call::ReadLossScale),
        1 => (proptest::collection::vec(slot(), 4), proptest::bool::weighted(0.7))
            .prop_map(|(slots, in_order)| Call::Sharded { slots, in_order }),
        1 => prop_oneof![
            Just(OtherDeviceCall::Build),
            any_f32().prop_map(OtherDeviceCall::Step),
            Just(OtherDeviceCall::ReadStats),
            Just(OtherDeviceCall::ReadParams),
            Just(OtherDeviceCall::ReadMomentum),
            Just(OtherDeviceCall::SaveState),
        ]
        .prop_map(Call::OtherDevice),
        1 => any_f32().prop_map(Call::SiblingLoss),
        // Rare: a case that loses its device needs a device of its own.
        1 => proptest::bool::weighted(0.08).prop_map(|lose| if lose {
            Call::LoseDevice
        } else {
            Call::ReadStats
        }),
    ]
}

/// Runs the calls, and says whether some step succeeded after finite non-zero gradients were
/// written: the case reached the kernels with data, not just validation.
fn run(
    devices: &Devices,
    tensors: &[(usize, usize)],
    precision: Precision,
    config: AligConfig,
    calls: &[Call],
) -> bool {
    let own_gpu = calls
        .iter()
        .any(|call| matches!(call, Call::LoseDevice))
        .then(common::gpu);
    let gpu = own_gpu.as_ref().unwrap_or(&devices.shared);
    let (device, queue) = (&gpu.device, &gpu.queue);
    let other = &devices.other;
    let tensors: Vec<(&str, usize)> = tensors.iter().map(|&(n, len)| (NAMES[n], len)).collect();
    // Without SHADER_F16 an f16 arena is refused with the typed error; the case goes on f32.
    let precision =
        if precision.needs_f16() && !device.features().contains(wgpu::Features::SHADER_F16) {
            let refused = Arena::with_precision(device, &tensors, precision);
            assert!(
                matches!(refused, Err(Error::MissingFeature(_))),
                "an f16 arena without SHADER_F16: {refused:?}"
            );
            Precision::F32
        } else {
            precision
        };
    let Ok(arena) = Arena::with_precision(device, &tensors, precision) else {
        return false;
    };
    if precision.needs_f16() {
        F16_ARENAS.fetch_add(1, Ordering::Relaxed);
    }
    let Ok(mut alig) = Alig::new(device, &arena, config) else {
        return false;
    };
    let target = |target: &Target| match target {
        Some(index) => tensors[index.index(tensors.len())],
        None => (UNKNOWN, 1),
    };
    let values = |len: usize, write_len: &WriteLen, value: f32| match write_len {
        WriteLen::Exact => vec![value; len],
        WriteLen::Other(other) => vec![value; *other],
    };
    let (mut wrote_grads, mut stepped_on_data, mut lost) = (false, false, false);
    for call in calls {
        match call {
            Call::WriteParams { tensor, len, value } => {
                let (name, n) = target(tensor);
                let _ = arena.write_params(queue, name, &values(n, len, *value));
            }
            Call::WriteGrads { tensor, len, value } => {
                let (name, n) = target(tensor);
                let written = arena.write_grads(queue, name, &values(n, len, *value));
                wrote_grads |= written.is_ok() && value.is_finite() && *value != 0.0;
            }
            Call::HostStep(loss) => {
                let stepped = alig.step(device, queue, Loss::Host(*loss)).is_ok();
                stepped_on_data |= stepped && wrote_grads;
            }
            Call::BufferStep {
                loss,
                offset,
                size,
                copy_src,
                state,
            } => {
                let buffer = loss_buffer(gpu, *loss, *size, *copy_src, *state, lost);
                let step = alig.step(
                    device,
                    queue,
                    Loss::Buffer {
                        buffer: &buffer,
                        offset: *offset,
                    },
                );
                assert!(
                    *state == BufferState::Usable || step.is_err(),
                    "a loss buffer {state:?} stepped"
                );
                stepped_on_data |= step.is_ok() && wrote_grads;
                if *state == BufferState::MapPending && !lost {
                    let _ = device.poll(wgpu::PollType::wait_indefinitely());
                }
            }
            Call::ReadStats => {
                let _ = alig.read_stats_blocking(device, queue);
            }
            Call::ReadStatsSince(since) => {
                if let Ok((_, stats)) = alig.read_stats_since(device, queue, *since) {
                    let _ = device.poll(wgpu::PollType::wait_indefinitely());
                    if let Ok(stats) = pollster::block_on(stats) {
                        let dropped = stats.dropped_since(*since);
                        assert!(
                            dropped <= u32::MAX / 2,
                            "dropped_since({since}) = {dropped}"
                        );
                    }
                }
            }
            Call::SetMaxLrs { count, max_lr } => {
                for k in 0..*count {
                    let _ = alig.set_max_lr(queue, 0, Some(*max_lr / (1.0 + k as f32)));
                }
                let stepped = alig.step(device, queue, Loss::Host(1.0)).is_ok();
                stepped_on_data |= stepped && wrote_grads;
            }
            Call::ReadParams(tensor) => {
                let _ = arena.read_params(device, queue, target(tensor).0);
            }
            Call::ReadHalfParams(tensor) => {
                let read = arena.read_half_params(device, queue, target(tensor).0);
                if precision != Precision::F16 && !lost {
                    assert!(
                        matches!(read, Err(Error::NoHalfParams(_) | Error::UnknownTensor(_))),
                        "read_half_params on {precision:?}: {read:?}"
                    );
                }
            }
            Call::ReadGrads(tensor) => {
                let _ = arena.read_grads(device, queue, target(tensor).0);
            }
            Call::ReadMomentum(tensor) => {
                let _ = alig.read_momentum(device, queue, target(tensor).0);
            }
            Call::ReadLossScale => read_loss_scale(gpu, &alig, lost),
            Call::OtherDevice(call) => {
                let (device, queue) = (&other.device, &other.queue);
                let name = tensors[0].0;
                let refused = match call {
                    OtherDeviceCall::Build => {
                        refused(Alig::new(device, &arena, AligConfig::default()).map(|_| ()))
                    }
                    OtherDeviceCall::Step(loss) => {
                        refused(alig.step(device, queue, Loss::Host(*loss)).map(|_| ()))
                    }
                    OtherDeviceCall::ReadStats => {
                        refused(alig.read_stats_blocking(device, queue).map(|_| ()))
                    }
                    OtherDeviceCall::ReadParams => {
                        refused(arena.read_params(device, queue, name).map(|_| ()))
                    }
                    OtherDeviceCall::ReadMomentum => {
                        refused(alig.read_momentum(device, queue, name).map(|_| ()))
                    }
                    OtherDeviceCall::SaveState => {
                        refused(alig.save_state(device, queue).map(|_| ()))
                    }
                };
                assert!(
                    refused,
                    "{call:?} on another instance's device was not refused"
                );
            }
            Call::SiblingLoss(loss) => {
                // Only the shared device has a sibling; a case with its own device skips.
                let Some(sibling) = devices.sibling.as_ref().filter(|_| own_gpu.is_none()) else {
                    continue;
                };
                let buffer = sibling.device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: 4,
                    usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                sibling
                    .queue
                    .write_buffer(&buffer, 0, bytemuck::bytes_of(loss));
                let loss = Loss::Buffer {
                    buffer: &buffer,
                    offset: 0,
                };
                let stepped = alig.step(device, queue, loss);
                assert!(
                    matches!(stepped, Err(Error::WrongDevice)),
                    "a loss buffer of a sibling device: {stepped:?}"
                );
            }
            Call::Sharded { slots, in_order } => {
                let buffer = |size, copy: bool| {
                    let usage = if copy {
                        wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
                    } else {
                        wgpu::BufferUsages::STORAGE
                    };
                    device.create_buffer(&wgpu::BufferDescriptor {
                        label: None,
                        size,
                        usage,
                        mapped_at_creation: false,
                    })
                };
                let mut encoder = device.create_command_encoder(&Default::default());
                for (k, slot) in slots.iter().enumerate() {
                    let k = if *in_order { k } else { 3 - k };
                    let buffer = buffer(slot.size, slot.copy);
                    let slot = NormSlot {
                        buffer: &buffer,
                        offset: slot.offset,
                    };
                    let _ = record_sharded_call(&mut alig, &mut encoder, queue, k, slot);
                }
                // Whatever call the step is at, the ones from there on succeed, the others
                // are refused: the step ends.
                let good = buffer(16, true);
                for k in 0..4 {
                    let slot = NormSlot {
                        buffer: &good,
                        offset: 0,
                    };
                    let _ = record_sharded_call(&mut alig, &mut encoder, queue, k, slot);
                }
                queue.submit([encoder.finish()]);
            }
            Call::LoseDevice => {
                device.destroy();
                lost = true;
            }
        }
    }
    stepped_on_data
}

/// A loss buffer holding `loss` everywhere, left in `state`. Usable: written through the queue
/// (`create_buffer_init` panics on a lost device). Otherwise mappable for writing (MAP_WRITE
/// and COPY_SRC), written through its map, then left mapped, mapped in part, with a map
/// pending or destroyed. On a lost device nothing is written or mapped.
fn loss_buffer(
    gpu: &Gpu,
    loss: f32,
    size: u64,
    copy_src: bool,
    state: BufferState,
    lost: bool,
) -> wgpu::Buffer {
    let contents = vec![loss; (size / 4) as usize];
    let mappable = !matches!(state, BufferState::Usable | BufferState::Destroyed);
    let usage = match (mappable, copy_src) {
        (true, _) => wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
        (false, true) => wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        (false, false) => wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
    };
    let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage,
        mapped_at_creation: mappable && !lost,
    });
    if lost {
        return buffer;
    }
    if !mappable {
        gpu.queue
            .write_buffer(&buffer, 0, bytemuck::cast_slice(&contents));
        if state == BufferState::Destroyed {
            buffer.destroy();
        }
        return buffer;
    }
    if let Ok(mut view) = buffer.get_mapped_range_mut(..) {
        view.copy_from_slice(bytemuck::cast_slice(&contents));
    }
    match state {
        BufferState::MappedInPart => {
            buffer.unmap();
            buffer.map_async(wgpu::MapMode::Write, 0..4, |_| {});
            let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
        }
        BufferState::MapPending => {
            buffer.unmap();
            buffer.map_async(wgpu::MapMode::Write, .., |_| {});
        }
        _ => {}
    }
    buffer
}

/// Binds the loss scale as an engine's backward pass does (`var<storage, read>`), copies it
/// out with a kernel, and checks it is a finite positive scale. On a lost device only the
/// binding is asked for: the test's own kernel could not be built there.
fn read_loss_scale(gpu: &Gpu, alig: &Alig, lost: bool) {
    let binding = alig.loss_scale_binding();
    if lost {
        return;
    }
    let device = &gpu.device;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("read the loss scale"),
        source: wgpu::ShaderSource::Wgsl(
            "@group(0) @binding(0) var<storage, read> loss_scale: f32;
             @group(0) @binding(1) var<storage, read_write> out: f32;
             @compute @workgroup_size(1) fn main() { out = loss_scale; }"
                .into(),
        ),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let buffer = |usage| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: 4,
            usage,
            mapped_at_creation: false,
        })
    };
    let out = buffer(wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC);
    let staging = buffer(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST);
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: wgpu::BindingResource::Buffer(binding),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: out.as_entire_binding(),
            },
        ],
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }
    encoder.copy_buffer_to_buffer(&out, 0, &staging, 0, 4);
    gpu.queue.submit([encoder.finish()]);
    let scale: f32 = common::readback::map_read(device, &staging, .., bytemuck::pod_read_unaligned)
        .expect("the loss scale read back");
    assert!(
        scale.is_finite() && scale > 0.0,
        "the loss scale the backward pass reads is {scale}"
    );
}

/// Another device is refused; once this case's device is lost, that is the answer instead.
fn refused(result: wgpu_alig::Result<()>) -> bool {
    matches!(result, Err(Error::WrongDevice | Error::DeviceLost))
}

/// The property run by hand rather than with `proptest!`, to count the cases that reach a
/// step with data: a generator that mostly stops at validation would pass without testing
/// the kernels.
#[test]
fn no_input_panics() {
    let mut runner = TestRunner::new(ProptestConfig {
        cases: CASES,
        source_file: Some(file!()),
        ..ProptestConfig::default()
    });
    let shared = common::gpu();
    let sibling = pollster::block_on(shared.another_device(Default::default())).ok();
    let devices = Devices {
        shared,
        other: common::gpu(),
        sibling,
    };
    let reached_a_step = Cell::new(0u32);
    let strategy = (
        tensors(),
        precision(),
        config(),
        proptest::collection::vec(call(), 4..24),
    );
    let result = runner.run(&strategy, |(tensors, precision, config, calls)| {
        if run(&devices, &tensors, precision, config, &calls) {
            reached_a_step.set(reached_a_step.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}\n{runner}");
    }
    let reached = reached_a_step.get();
    println!(
        "{reached} of {CASES} cases stepped on non-zero gradients; {} built an f16 arena",
        F16_ARENAS.load(Ordering::Relaxed)
    );
    // About half reach a step (27 to 37 of 64 in runs on lavapipe); a quarter is about four
    // standard deviations below that.
    assert!(
        reached * 4 >= CASES,
        "only {reached} of {CASES} cases stepped on non-zero gradients"
    );
}
