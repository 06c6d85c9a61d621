//! The sharded step: a model's tensors split over two devices (two instances on the same
//! adapter), each stepping its shard, the norms combined through the host between the
//! passes. The union of the shards must equal the plain step over the whole model on one
//! device (within the reference tolerance: the partials are summed in another grouping) and
//! the f64 reference; one shard given its own norm back must equal the plain step bit for bit;
//! and replicated devices given the same gradients (data parallelism) must stay bit-identical.

mod common;

use common::*;
use wgpu_alig::reference::AligReference;
use wgpu_alig::{
    Alig, AligConfig, Arena, Error, Gpu, GpuRequest, Loss, MomentumKind, NormSlot, ParamGroup,
    ShardNorm,
};

// Large enough that every shard's pass 1 has several workgroups (partials) on a CPU driver.
const SIZES: [usize; 6] = [40_000, 37, 20_097, 256, 65, 30_001];
const STEPS: usize = 24;

fn names() -> Vec<String> {
    (0..SIZES.len()).map(|k| format!("t{k}")).collect()
}

/// The model's groups: t0..t2 with max_lr 0.05 and the config's momentum, t3 and t4 with
/// none and max_lr 0.03, t5 frozen. `None`: one group of every tensor.
fn grouped(config: &AligConfig) -> Vec<ParamGroup> {
    vec![
        ParamGroup::new(&["t0", "t1", "t2"], Some(0.05), config.momentum),
        ParamGroup::new(&["t3", "t4"], Some(0.03), 0.0),
    ]
}

fn every_tensor(config: &AligConfig) -> Vec<ParamGroup> {
    let names = names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    vec![ParamGroup::new(&names, config.max_lr, config.momentum)]
}

/// The groups restricted to the tensors of a shard, in the same order, so that a group's
/// index means the same on every device.
fn groups_of(groups: &[ParamGroup], tensors: &[usize]) -> Vec<ParamGroup> {
    let names = names();
    groups
        .iter()
        .map(|g| ParamGroup {
            tensors: tensors
                .iter()
                .map(|&k| names[k].clone())
                .filter(|n| g.tensors.contains(n))
                .collect(),
            ..g.clone()
        })
        .collect()
}

/// One device's part of the model: its tensors, arena and optimizer, and the two small
/// buffers the norms travel through.
struct Shard {
    gpu: Gpu,
    tensors: Vec<usize>,
    arena: Arena,
    alig: Alig,
    /// The crate's local norm lands here and is read by the host.
    local: wgpu::Buffer,
    /// The host writes the combined norm here for the crate to copy in.
    global: wgpu::Buffer,
}

impl Shard {
    fn new(
        gpu: Gpu,
        tensors: &[usize],
        config: AligConfig,
        groups: &[ParamGroup],
        init: &[Vec<f32>],
    ) -> Self {
        let names = names();
        let specs: Vec<(&str, usize)> = tensors
            .iter()
            .map(|&k| (names[k].as_str(), SIZES[k]))
            .collect();
        let arena = Arena::new(&gpu.device, &specs).unwrap();
        for &k in tensors {
            arena
                .write_params(&gpu.queue, names[k].as_str(), &init[k])
                .unwrap();
        }
        let alig =
            Alig::with_groups(&gpu.device, &arena, config, &groups_of(groups, tensors)).unwrap();
        let buffer = |label, usage| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: ShardNorm::SIZE,
                usage,
                mapped_at_creation: false,
            })
        };
        let local = buffer(
            "local norm",
            wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        );
        let global = buffer(
            "global norm",
            wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        );
        Self {
            gpu,
            tensors: tensors.to_vec(),
            arena,
            alig,
            local,
            global,
        }
    }

    fn write_grads(&self, grads: &[Vec<f32>]) {
        let names = names();
        for &k in &self.tensors {
            self.arena
                .write_grads(&self.gpu.queue, names[k].as_str(), &grads[k])
                .unwrap();
        }
    }

    /// Records one call of the sharded step in its own encoder and submits it.
    fn submit(&mut self, record: impl FnOnce(&mut Alig, &mut wgpu::CommandEncoder, &Gpu, Slots)) {
        let mut encoder = self.gpu.device.create_command_encoder(&Default::default());
        let slots = Slots {
            local: NormSlot {
                buffer: &self.local,
                offset: 0,
            },
            global: NormSlot {
                buffer: &self.global,
                offset: 0,
            },
        };
        record(&mut self.alig, &mut encoder, &self.gpu, slots);
        self.gpu.queue.submit([encoder.finish()]);
    }

    /// The local norm the last call left, read back (the host's part of the collective).
    fn read_local(&self) -> ShardNorm {
        readback::map_read(
            &self.gpu.device,
            &self.local,
            ..,
            bytemuck::pod_read_unaligned,
        )
        .unwrap()
    }

    fn write_global(&self, norm: ShardNorm) {
        self.gpu
            .queue
            .write_buffer(&self.global, 0, bytemuck::bytes_of(&norm));
    }

    fn params(&self) -> Vec<(usize, Vec<f32>, Vec<f32>)> {
        let names = names();
        self.tensors
            .iter()
            .map(|&k| {
                let name = names[k].as_str();
                let params = self
                    .arena
                    .read_params(&self.gpu.device, &self.gpu.queue, name)
                    .unwrap();
                let momentum = self
                    .alig
                    .read_momentum(&self.gpu.device, &self.gpu.queue, name)
                    .unwrap();
                (k, params, momentum)
            })
            .collect()
    }
}

#[derive(Clone, Copy)]
struct Slots<'a> {
    local: NormSlot<'a>,
    global: NormSlot<'a>,
}

/// One sharded step over `shards` with a host all-reduce of the norms: each shard's
/// gradient norm out, the sum in, the update; with projection the same for `||w||^2`.
/// Returns the combined gradient norm.
fn sharded_step(shards: &mut [Shard], loss: f32, projection: bool) -> ShardNorm {
    let all_reduce = |shards: &mut [Shard]| {
        let norm = ShardNorm::combine(shards.iter().map(Shard::read_local));
        for shard in shards.iter() {
            shard.write_global(norm);
        }
        norm
    };
    for shard in shards.iter_mut() {
        shard.submit(|alig, encoder, _, slots| {
            alig.record_local_grad_norm(encoder, slots.local).unwrap();
        });
    }
    let grad_norm = all_reduce(shards);
    for shard in shards.iter_mut() {
        shard.submit(|alig, encoder, gpu, slots| {
            alig.record_global_update(encoder, &gpu.queue, Loss::Host(loss), slots.global)
                .unwrap();
            if projection {
                alig.record_local_param_norm(encoder, slots.local).unwrap();
            }
        });
    }
    if projection {
        all_reduce(shards);
        for shard in shards.iter_mut() {
            shard.submit(|alig, encoder, _, slots| {
                alig.record_global_projection(encoder, slots.global)
                    .unwrap();
            });
        }
    }
    grad_norm
}

/// A loss that puts gamma_hat in [0.01, 0.1] for these gradients, as the other reference
/// tests choose theirs; the sum runs over the trainable tensors.
fn loss_for(rng: &mut Rng, grads: &[Vec<f32>], trainable: &[bool]) -> f32 {
    let sq_norm: f64 = grads
        .iter()
        .zip(trainable)
        .filter(|(_, &t)| t)
        .flat_map(|(g, _)| g)
        .map(|&g| f64::from(g) * f64::from(g))
        .sum();
    (rng.uniform(0.01, 0.1) * sq_norm) as f32
}

/// The model split over two devices against the plain step over the whole model on a third
/// and against the f64 reference, after every step. With `nan_at`, one element of shard 1's
/// gradients is NaN at that step: every device must skip it and change nothing.
fn two_shards_match_one_device(
    what: &str,
    config: AligConfig,
    groups: &[ParamGroup],
    nan_at: Option<usize>,
) {
    let names = names();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut rng = Rng::new(12);
    let init: Vec<Vec<f32>> = SIZES.iter().map(|&n| rng.vec_f32(n, -1.0, 1.0)).collect();
    let trainable: Vec<bool> = names
        .iter()
        .map(|n| groups.iter().any(|g| g.tensors.iter().any(|t| t == n)))
        .collect();
    let projection = config.max_norm.is_some();
    // Interleaved, so that each arena lays its tensors out differently from the whole one's.
    let mut shards = vec![
        Shard::new(gpu(), &[0, 3, 4], config, groups, &init),
        Shard::new(gpu(), &[1, 2, 5], config, groups, &init),
    ];
    let mut whole = Shard::new(gpu(), &[0, 1, 2, 3, 4, 5], config, groups, &init);
    let init64 = init.iter().map(|v| to_f64(v)).collect();
    let mut reference = AligReference::with_groups(config, &names, init64, groups).unwrap();

    for step in 0..STEPS {
        let mut grads: Vec<Vec<f32>> = SIZES.iter().map(|&n| rng.vec_f32(n, -1.0, 1.0)).collect();
        let loss = loss_for(&mut rng, &grads, &trainable);
        if nan_at == Some(step) {
            grads[2][100] = f32::NAN;
        }
        let before: Vec<_> = shards.iter().map(Shard::params).collect();
        for shard in shards.iter() {
            shard.write_grads(&grads);
        }
        whole.write_grads(&grads);
        let combined = sharded_step(&mut shards, loss, projection);
        whole
            .alig
            .step(&whole.gpu.device, &whole.gpu.queue, Loss::Host(loss))
            .unwrap();
        let grads64: Vec<Vec<f64>> = grads.iter().map(|g| to_f64(g)).collect();
        let want = reference.step(f64::from(loss), &grads64).unwrap();
        let what = format!("{what}, step {step}");

        // Every device ran the same step, with the same record as the whole model's.
        let whole_record = *whole
            .alig
            .read_stats_blocking(&whole.gpu.device, &whole.gpu.queue)
            .unwrap()
            .last()
            .unwrap();
        for (s, shard) in shards.iter().enumerate() {
            let stats = shard
                .alig
                .read_stats_blocking(&shard.gpu.device, &shard.gpu.queue)
                .unwrap();
            let record = stats.last().unwrap();
            assert_eq!(record.step as usize, step, "{what}: shard {s} step");
            assert_eq!(record.flags, want.flags, "{what}: shard {s} flags");
            assert_eq!(record.flags, whole_record.flags, "{what}: shard {s} flags");
            assert_eq!(
                record.grad_sq_norm.to_bits(),
                combined.sq_sum.to_bits(),
                "{what}: shard {s} runs with the combined norm"
            );
            if !want.flags.skipped() {
                assert_rel(
                    &format!("{what}: shard {s} gamma"),
                    record.gamma,
                    want.gamma,
                    1e-6,
                );
                assert_rel(
                    &format!("{what}: shard {s} ||g||^2 vs the whole model's"),
                    record.grad_sq_norm,
                    f64::from(whole_record.grad_sq_norm),
                    1e-6,
                );
            }
            if projection {
                assert_rel(
                    &format!("{what}: shard {s} ||w||^2"),
                    record.param_sq_norm,
                    want.param_sq_norm,
                    1e-6,
                );
            }
        }
        if want.flags.skipped() {
            let after: Vec<_> = shards.iter().map(Shard::params).collect();
            assert_eq!(before.len(), after.len());
            for (b, a) in before.iter().zip(&after) {
                for ((k, bp, bm), (_, ap, am)) in b.iter().zip(a) {
                    assert_eq!(bits(bp), bits(ap), "{what}: t{k} params of a skipped step");
                    assert_eq!(
                        bits(bm),
                        bits(am),
                        "{what}: t{k} momentum of a skipped step"
                    );
                }
            }
        }
        // The union of the shards against the whole model and the reference.
        let whole_params = whole.params();
        for shard in &shards {
            for (k, params, momentum) in shard.params() {
                let (_, whole_p, whole_m) = &whole_params[k];
                let what = format!("{what}: t{k}");
                assert_close(
                    &format!("{what} params vs the whole model"),
                    &params,
                    &to_f64(whole_p),
                    1e-5,
                    1.0,
                );
                assert_close(
                    &format!("{what} momentum vs the whole model"),
                    &momentum,
                    &to_f64(whole_m),
                    1e-5,
                    1.0,
                );
                assert_close(
                    &format!("{what} params vs reference"),
                    &params,
                    &reference.params()[k],
                    1e-5,
                    1.0,
                );
                assert_close(
                    &format!("{what} momentum vs reference"),
                    &momentum,
                    &reference.momentum()[k],
                    1e-5,
                    1.0,
                );
                if !trainable[k] {
                    assert_eq!(bits(&params), bits(&init[k]), "{what}: frozen");
                }
            }
        }
    }
}

#[test]
fn two_shards_without_momentum_match_one_device() {
    let config = AligConfig {
        max_lr: Some(0.05),
        ..AligConfig::default()
    };
    two_shards_match_one_device("no momentum", config, &every_tensor(&config), None);
}

#[test]
fn two_shards_with_momentum_match_one_device() {
    let config = AligConfig::paper(0.05);
    two_shards_match_one_device("nesterov", config, &every_tensor(&config), None);
    let adjusted = AligConfig {
        momentum_kind: MomentumKind::Adjusted,
        ..config
    };
    two_shards_match_one_device("adjusted", adjusted, &every_tensor(&adjusted), None);
}

#[test]
fn two_shards_with_projection_match_one_device() {
    // The initial ||w|| is about 174: the ball of radius 120 projects from the first step on.
    let config = AligConfig {
        max_norm: Some(120.0),
        ..AligConfig::paper(0.05)
    };
    two_shards_match_one_device("projection", config, &every_tensor(&config), None);
}

#[test]
fn two_shards_with_groups_and_a_frozen_tensor_match_one_device() {
    let config = AligConfig {
        max_norm: Some(120.0),
        ..AligConfig::paper(0.05)
    };
    two_shards_match_one_device("groups", config, &grouped(&config), None);
}

#[test]
fn a_nan_in_one_shard_skips_the_step_on_every_device() {
    let config = AligConfig::paper(0.05);
    two_shards_match_one_device("nan", config, &every_tensor(&config), Some(5));
}

/// One shard given its own norm back takes exactly the plain step: same kernels, and the
/// combined value enters the next pass's sum exactly. Windows included (binding capped at
/// 1 MiB, so that the arena runs in two).
#[test]
fn one_shard_steps_bit_for_bit_as_the_plain_step() {
    let request = GpuRequest {
        max_storage_binding: Some(1 << 20),
        ..GpuRequest::default()
    };
    let sizes = [200_000usize, 3, 70_001];
    for config in [
        AligConfig::paper(0.05),
        AligConfig {
            max_norm: Some(300.0),
            ..AligConfig::paper(0.05)
        },
    ] {
        let gpu = gpu_with(request.clone());
        let names = ["a", "b", "c"];
        let specs: Vec<(&str, usize)> = names.iter().copied().zip(sizes).collect();
        let mut rng = Rng::new(3);
        let init: Vec<Vec<f32>> = sizes.iter().map(|&n| rng.vec_f32(n, -1.0, 1.0)).collect();
        let setup = || {
            let arena = Arena::new(&gpu.device, &specs).unwrap();
            for (name, values) in names.iter().zip(&init) {
                arena.write_params(&gpu.queue, *name, values).unwrap();
            }
            let alig = Alig::new(&gpu.device, &arena, config).unwrap();
            (arena, alig)
        };
        let (plain_arena, mut plain) = setup();
        let (shard_arena, mut shard) = setup();
        assert!(plain.dispatches_per_step() > 3, "the arena runs in windows");
        let norm_buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("norms"),
            size: 2 * ShardNorm::SIZE,
            usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let grad_slot = NormSlot {
            buffer: &norm_buffer,
            offset: 0,
        };
        let param_slot = NormSlot {
            buffer: &norm_buffer,
            offset: ShardNorm::SIZE,
        };
        for step in 0..10 {
            for (name, &n) in names.iter().zip(&sizes) {
                let grads = rng.vec_f32(n, -1.0, 1.0);
                plain_arena.write_grads(&gpu.queue, *name, &grads).unwrap();
                shard_arena.write_grads(&gpu.queue, *name, &grads).unwrap();
            }
            let loss = Loss::Host(rng.uniform(100.0, 5000.0) as f32);
            plain.step(&gpu.device, &gpu.queue, loss).unwrap();
            // The local norm goes out and straight back in: the combine of one shard.
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            shard
                .record_local_grad_norm(&mut encoder, grad_slot)
                .unwrap();
            shard
                .record_global_update(&mut encoder, &gpu.queue, loss, grad_slot)
                .unwrap();
            if config.max_norm.is_some() {
                shard
                    .record_local_param_norm(&mut encoder, param_slot)
                    .unwrap();
                shard
                    .record_global_projection(&mut encoder, param_slot)
                    .unwrap();
            }
            gpu.queue.submit([encoder.finish()]);

            let what = format!("max_norm {:?}, step {step}", config.max_norm);
            for name in names {
                assert_eq!(
                    bits(
                        &plain_arena
                            .read_params(&gpu.device, &gpu.queue, name)
                            .unwrap()
                    ),
                    bits(
                        &shard_arena
                            .read_params(&gpu.device, &gpu.queue, name)
                            .unwrap()
                    ),
                    "{what}: params of {name}"
                );
                assert_eq!(
                    bits(&plain.read_momentum(&gpu.device, &gpu.queue, name).unwrap()),
                    bits(&shard.read_momentum(&gpu.device, &gpu.queue, name).unwrap()),
                    "{what}: momentum of {name}"
                );
            }
        }
        let plain_stats = plain.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
        let shard_stats = shard.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
        assert_eq!(plain_stats.records, shard_stats.records);
        if config.max_norm.is_some() {
            assert!(
                plain_stats.records.iter().all(|r| r.param_sq_norm > 0.0),
                "projection ran"
            );
        }
    }
}

/// Data parallelism: replicated parameters, the same (all-reduced) gradients and loss on
/// every device, the plain step on each: the replicas stay identical bit for bit.
#[test]
fn replicas_given_the_same_gradients_stay_bit_identical() {
    let config = AligConfig::paper(0.05);
    let groups = every_tensor(&config);
    let mut rng = Rng::new(21);
    let init: Vec<Vec<f32>> = SIZES.iter().map(|&n| rng.vec_f32(n, -1.0, 1.0)).collect();
    let all = [0, 1, 2, 3, 4, 5];
    let mut replicas = [
        Shard::new(gpu(), &all, config, &groups, &init),
        Shard::new(gpu(), &all, config, &groups, &init),
    ];
    for _ in 0..STEPS {
        let grads: Vec<Vec<f32>> = SIZES.iter().map(|&n| rng.vec_f32(n, -1.0, 1.0)).collect();
        let loss = loss_for(&mut rng, &grads, &[true; 6]);
        for replica in replicas.iter_mut() {
            replica.write_grads(&grads);
            replica
                .alig
                .step(&replica.gpu.device, &replica.gpu.queue, Loss::Host(loss))
                .unwrap();
        }
    }
    let [a, b] = &replicas;
    for ((k, ap, am), (_, bp, bm)) in a.params().iter().zip(&b.params()) {
        assert_eq!(bits(ap), bits(bp), "params of t{k}");
        assert_eq!(bits(am), bits(bm), "momentum of t{k}");
    }
}

/// The calls of a sharded step in another order, a plain step inside one, or a slot that
/// cannot hold a norm: typed errors, and nothing recorded.
#[test]
fn a_sharded_step_out_of_order_or_with_a_bad_slot_is_an_error() {
    let gpu = gpu();
    let arena = Arena::new(&gpu.device, &[("w", 100)]).unwrap();
    let mut alig = Alig::new(&gpu.device, &arena, AligConfig::paper(0.1)).unwrap();
    let buffer = |usage| {
        gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: 16,
            usage,
            mapped_at_creation: false,
        })
    };
    let copy = buffer(wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST);
    let only_src = buffer(wgpu::BufferUsages::COPY_SRC);
    let slot = |buffer, offset| NormSlot { buffer, offset };
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    let order = |r: wgpu_alig::Result<()>| matches!(r, Err(Error::ShardedStepOrder { .. }));

    assert!(order(alig.record_global_update(
        &mut encoder,
        &gpu.queue,
        Loss::Host(1.0),
        slot(&copy, 0)
    )));
    assert!(matches!(
        alig.record_local_grad_norm(&mut encoder, slot(&copy, 2)),
        Err(Error::NormSlotOffset { offset: 2, .. })
    ));
    assert!(matches!(
        alig.record_local_grad_norm(&mut encoder, slot(&copy, 12)),
        Err(Error::NormSlotOffset { offset: 12, .. })
    ));
    assert!(matches!(
        alig.record_local_grad_norm(&mut encoder, slot(&only_src, 0)),
        Err(Error::NormSlotUsage(_))
    ));
    alig.record_local_grad_norm(&mut encoder, slot(&copy, 8))
        .unwrap();
    assert!(order(alig.record_step(
        &mut encoder,
        &gpu.queue,
        Loss::Host(1.0)
    )));
    assert!(order(
        alig.record_local_grad_norm(&mut encoder, slot(&copy, 0))
    ));
    // Without projection there are no parameter norms to exchange.
    alig.record_global_update(&mut encoder, &gpu.queue, Loss::Host(1.0), slot(&copy, 8))
        .unwrap();
    assert!(order(
        alig.record_local_param_norm(&mut encoder, slot(&copy, 0))
    ));
    assert!(order(
        alig.record_global_projection(&mut encoder, slot(&copy, 0))
    ));
    alig.record_step(&mut encoder, &gpu.queue, Loss::Host(1.0))
        .unwrap();
    gpu.queue.submit([encoder.finish()]);
    let stats = alig.read_stats_blocking(&gpu.device, &gpu.queue).unwrap();
    assert_eq!(stats.steps, 2, "the failed calls recorded no step");
}
