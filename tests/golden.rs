//! The golden test: one fixed scenario through every option (each momentum kind, projection,
//! groups with a frozen tensor, several windows, a max_lr and momentum change, a NaN loss and
//! a NaN gradient, a loss from a buffer, the SPS form, f16 gradients with a fixed loss scale,
//! f16 parameters with a dynamic one, a sharded step, save and restore), whose final
//! parameters, momentum, step records and saved state are compared byte for byte with the
//! outputs recorded on the same adapter (`tests/golden/<adapter>.txt`).
//!
//! It pins what the crate computes, so that a change meant to move code only shows any
//! change of a bit. A refactor must pass it unchanged; a change of the numbers on purpose
//! rewrites the files (`WGPU_ALIG_GOLDEN_WRITE=1 cargo test --release --test golden`, once
//! per adapter) and says why in its commit.
//!
//! Bits depend on the driver (WGSL lets it reassociate and contract floats), so the files
//! are per adapter. On an adapter with no file the scenario runs twice and must give the
//! same bits (the kernels are deterministic); the test says that no golden comparison was
//! made. With `WGPU_ALIG_GOLDEN_REQUIRED=1` (CI) a missing file is a failure.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;

use common::{gpu_with, Rng};
use wgpu_alig::{
    Alig, AligConfig, AligState, Arena, Error, Gpu, GpuRequest, Loss, LossScale, MomentumKind,
    NormSlot, ParamGroup, Precision, ShardNorm,
};

/// The outputs of the scenario: named sections of 32-bit words.
#[derive(Default, PartialEq)]
struct Outputs(Vec<(String, Vec<u32>)>);

impl Outputs {
    fn push(&mut self, name: impl Into<String>, words: Vec<u32>) {
        self.0.push((name.into(), words));
    }

    fn push_f32s(&mut self, name: impl Into<String>, values: &[f32]) {
        self.push(name, values.iter().map(|v| v.to_bits()).collect());
    }

    fn push_bytes(&mut self, name: impl Into<String>, bytes: &[u8]) {
        let mut padded = bytes.to_vec();
        padded.resize(bytes.len().next_multiple_of(4), 0);
        let mut words = vec![bytes.len() as u32];
        words.extend(bytemuck::pod_collect_to_vec::<u8, u32>(&padded));
        self.push(name, words);
    }

    /// The parameters and momentum of every tensor of `arena`, and the step records.
    fn push_run(&mut self, what: &str, gpu: &Gpu, arena: &Arena, alig: &Alig) {
        let (device, queue) = (&gpu.device, &gpu.queue);
        for slot in arena.layout().tensors() {
            let name = slot.name.as_str();
            let params = arena.read_params(device, queue, name).unwrap();
            self.push_f32s(format!("{what}: params of {name}"), &params);
            if arena.precision().has_master() {
                let half = arena.read_half_params(device, queue, name).unwrap();
                self.push_f32s(format!("{what}: f16 params of {name}"), &half);
            }
            let momentum = alig.read_momentum(device, queue, name).unwrap();
            self.push_f32s(format!("{what}: momentum of {name}"), &momentum);
        }
        let stats = alig.read_stats_blocking(device, queue).unwrap();
        self.push(
            format!("{what}: steps, skipped"),
            vec![stats.steps, stats.skipped],
        );
        self.push(
            format!("{what}: records"),
            bytemuck::cast_slice(&stats.records).to_vec(),
        );
    }

    fn to_text(&self, adapter: &str) -> String {
        let mut text = format!("# wgpu-alig golden outputs on {adapter}\n");
        for (name, words) in &self.0 {
            writeln!(text, "[{name}] {}", words.len()).unwrap();
            for line in words.chunks(8) {
                let hex: Vec<String> = line.iter().map(|w| format!("{w:08x}")).collect();
                writeln!(text, "{}", hex.join(" ")).unwrap();
            }
        }
        text
    }

    fn from_text(text: &str) -> Self {
        let mut outputs = Self::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if let Some(header) = line.strip_prefix('[') {
                let (name, _) = header.rsplit_once("] ").expect("a section header");
                outputs.push(name, Vec::new());
            } else {
                let (_, words) = outputs.0.last_mut().expect("a section before its words");
                words.extend(line.split(' ').map(|w| u32::from_str_radix(w, 16).unwrap()));
            }
        }
        outputs
    }

    /// Panics at the first word that differs from `golden`, naming the section, the index
    /// and both values.
    fn assert_matches(&self, golden: &Self) {
        let names = |o: &Self| o.0.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(self), names(golden), "the sections differ");
        for ((name, got), (_, want)) in self.0.iter().zip(&golden.0) {
            assert_eq!(got.len(), want.len(), "{name}: lengths differ");
            if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
                panic!(
                    "{name}[{i}]: {:#010x} ({:e} as f32), golden {:#010x} ({:e})",
                    got[i],
                    f32::from_bits(got[i]),
                    want[i],
                    f32::from_bits(want[i])
                );
            }
        }
    }
}

/// The devices of the scenario: one whose storage bindings are capped at 4 KiB (so that the
/// arenas run in several windows) and one plain.
fn gpus() -> (Gpu, Gpu) {
    let windowed = gpu_with(GpuRequest {
        max_storage_binding: Some(4096),
        ..GpuRequest::default()
    });
    (windowed, gpu_with(GpuRequest::default()))
}

fn arena_with_params(
    gpu: &Gpu,
    specs: &[(&str, usize)],
    precision: Precision,
    rng: &mut Rng,
) -> Arena {
    let arena = Arena::with_precision(&gpu.device, specs, precision).unwrap();
    for &(name, len) in specs {
        arena
            .write_params(&gpu.queue, name, &rng.vec_f32(len, -1.0, 1.0))
            .unwrap();
    }
    arena
}

/// Writes seeded gradients times `scale` into every tensor of `arena`, with one NaN when
/// asked.
fn write_grads(gpu: &Gpu, arena: &Arena, rng: &mut Rng, scale: f32, nan: bool) {
    for slot in arena.layout().tensors() {
        let mut grads: Vec<f32> = rng
            .vec_f32(slot.len, -1.0, 1.0)
            .iter()
            .map(|g| g * scale)
            .collect();
        if nan {
            grads[slot.len / 2] = f32::NAN;
        }
        arena
            .write_grads(&gpu.queue, slot.name.as_str(), &grads)
            .unwrap();
    }
}

/// Nesterov momentum, projection, two groups (one unbounded) and a frozen tensor, in four
/// windows; a max_lr and a momentum change, a NaN loss, then save and restore mid-run.
fn groups_projection_windows(gpu: &Gpu, out: &mut Outputs) {
    let mut rng = Rng::new(1);
    let specs = [
        ("a", 1000),
        ("b", 3),
        ("c", 257),
        ("frozen", 300),
        ("d", 1500),
    ];
    let arena = arena_with_params(gpu, &specs, Precision::F32, &mut rng);
    let groups = [
        ParamGroup::new(&["a", "c"], Some(0.05), 0.9),
        ParamGroup::new(&["b", "d"], None, 0.5),
    ];
    let config = AligConfig {
        max_norm: Some(25.0),
        stats_capacity: 16,
        ..AligConfig::default()
    };
    let mut alig = Alig::with_groups(&gpu.device, &arena, config, &groups).unwrap();
    out.push(
        "windows: dispatches per step",
        vec![alig.dispatches_per_step() as u32],
    );
    for step in 1..=8 {
        write_grads(gpu, &arena, &mut rng, 1.0, false);
        let loss = if step == 4 {
            f32::NAN
        } else {
            rng.uniform(20.0, 80.0) as f32
        };
        alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))
            .unwrap();
        if step == 3 {
            alig.set_max_lr(&gpu.queue, 0, Some(0.02)).unwrap();
            alig.set_momentum(&gpu.queue, 1, 0.8).unwrap();
        }
        if step == 5 {
            let bytes = alig.save_state(&gpu.device, &gpu.queue).unwrap().to_bytes();
            out.push_bytes("windows: saved state", &bytes);
            let state = AligState::from_bytes(&bytes).unwrap();
            alig = Alig::from_state(&gpu.device, &gpu.queue, &arena, &state).unwrap();
        }
    }
    out.push_run("windows", gpu, &arena, &alig);
}

/// Adjusted momentum, with the loss read from a GPU buffer at a different offset each step.
fn adjusted_momentum_loss_buffer(gpu: &Gpu, out: &mut Outputs) {
    let mut rng = Rng::new(2);
    let specs = [("t0", 1), ("t1", 3), ("t2", 255), ("t3", 257), ("t4", 4097)];
    let arena = arena_with_params(gpu, &specs, Precision::F32, &mut rng);
    let config = AligConfig {
        momentum: 0.9,
        momentum_kind: MomentumKind::Adjusted,
        stats_capacity: 16,
        ..AligConfig::paper(0.05)
    };
    let mut alig = Alig::new(&gpu.device, &arena, config).unwrap();
    let losses = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("losses"),
        size: 16,
        usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    for step in 0..6u64 {
        write_grads(gpu, &arena, &mut rng, 1.0, false);
        let offset = 4 * (step % 4);
        let loss = rng.uniform(30.0, 120.0) as f32;
        gpu.queue
            .write_buffer(&losses, offset, bytemuck::bytes_of(&loss));
        let buffer = Loss::Buffer {
            buffer: &losses,
            offset,
        };
        alig.step(&gpu.device, &gpu.queue, buffer).unwrap();
    }
    out.push_run("adjusted", gpu, &arena, &alig);
}

/// No momentum, the SPS-max form (f_star, c = 0.5, no max_lr), and a NaN gradient.
fn sps_without_momentum(gpu: &Gpu, out: &mut Outputs) {
    let mut rng = Rng::new(3);
    let arena = arena_with_params(gpu, &[("t0", 4097), ("t1", 3)], Precision::F32, &mut rng);
    let config = AligConfig {
        f_star: 0.1,
        c: 0.5,
        eps: 1e-6,
        stats_capacity: 16,
        ..AligConfig::default()
    };
    let mut alig = Alig::new(&gpu.device, &arena, config).unwrap();
    for step in 0..5 {
        write_grads(gpu, &arena, &mut rng, 1.0, step == 2);
        let loss = rng.uniform(10.0, 60.0) as f32;
        alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))
            .unwrap();
    }
    out.push_run("sps", gpu, &arena, &alig);
}

/// f16 gradients with a fixed loss scale, and f16 parameters (f32 master) with a dynamic
/// one that an overflowing gradient lowers. A device without f16 refuses both arenas.
fn mixed_precision(gpu: &Gpu, out: &mut Outputs) {
    if !gpu.device.features().contains(wgpu::Features::SHADER_F16) {
        for precision in [Precision::F16Grads, Precision::F16] {
            let refused = Arena::with_precision(&gpu.device, &[("w", 4)], precision);
            assert!(matches!(
                refused,
                Err(Error::MissingFeature(wgpu::Features::SHADER_F16))
            ));
        }
        out.push("f16: refused with MissingFeature(SHADER_F16)", Vec::new());
        return;
    }
    let dynamic = LossScale::Dynamic {
        initial: 1024.0,
        growth_factor: 2.0,
        backoff_factor: 0.5,
        growth_interval: 2,
    };
    let runs = [
        ("f16 grads", Precision::F16Grads, LossScale::Fixed(1024.0)),
        ("f16", Precision::F16, dynamic),
    ];
    for (seed, (what, precision, loss_scale)) in (4..).zip(runs) {
        let mut rng = Rng::new(seed);
        let specs = [("t0", 1000), ("t1", 3), ("t2", 257)];
        let arena = arena_with_params(gpu, &specs, precision, &mut rng);
        let config = AligConfig {
            loss_scale,
            stats_capacity: 16,
            ..AligConfig::paper(0.05)
        };
        let mut alig = Alig::new(&gpu.device, &arena, config).unwrap();
        for step in 0..6 {
            // Step 3's gradients overflow f16 at this scale.
            let scale = if step == 3 { 1e5 * 1024.0 } else { 1024.0 };
            write_grads(gpu, &arena, &mut rng, scale, false);
            let loss = rng.uniform(20.0, 80.0) as f32;
            alig.step(&gpu.device, &gpu.queue, Loss::Host(loss))
                .unwrap();
        }
        out.push_run(what, gpu, &arena, &alig);
    }
}

/// One shard of a model: its arena, optimizer and the buffers its norms cross.
struct Shard {
    arena: Arena,
    alig: Alig,
    local: wgpu::Buffer,
    global: wgpu::Buffer,
}

impl Shard {
    fn new(gpu: &Gpu, specs: &[(&str, usize)], config: AligConfig, rng: &mut Rng) -> Self {
        let arena = arena_with_params(gpu, specs, Precision::F32, rng);
        let alig = Alig::new(&gpu.device, &arena, config).unwrap();
        let buffer = |usage| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("shard norm"),
                size: ShardNorm::SIZE,
                usage,
                mapped_at_creation: false,
            })
        };
        Self {
            arena,
            alig,
            local: buffer(wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ),
            global: buffer(wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST),
        }
    }

    fn record(
        &mut self,
        gpu: &Gpu,
        call: impl FnOnce(&mut Alig, &mut wgpu::CommandEncoder, NormSlot, NormSlot),
    ) {
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        let slot = |buffer| NormSlot { buffer, offset: 0 };
        call(
            &mut self.alig,
            &mut encoder,
            slot(&self.local),
            slot(&self.global),
        );
        gpu.queue.submit([encoder.finish()]);
    }

    fn read_local(&self, gpu: &Gpu) -> ShardNorm {
        self.local
            .slice(..)
            .map_async(wgpu::MapMode::Read, |r| r.unwrap());
        gpu.device
            .poll(wgpu::PollType::wait_indefinitely())
            .unwrap();
        let norm = bytemuck::pod_read_unaligned(&self.local.get_mapped_range(..).unwrap());
        self.local.unmap();
        norm
    }
}

/// The combined norm of `shards`, written where each copies it from.
fn all_reduce(gpu: &Gpu, shards: &[Shard]) {
    let norm = ShardNorm::combine(shards.iter().map(|s| s.read_local(gpu)));
    for shard in shards {
        gpu.queue
            .write_buffer(&shard.global, 0, bytemuck::bytes_of(&norm));
    }
}

/// Two shards of one model with momentum and projection, their norms combined on the host.
fn sharded(gpu: &Gpu, out: &mut Outputs) {
    let mut rng = Rng::new(6);
    let config = AligConfig {
        max_norm: Some(30.0),
        stats_capacity: 16,
        ..AligConfig::paper(0.05)
    };
    let mut shards = [
        Shard::new(gpu, &[("t0", 1000), ("t1", 3)], config, &mut rng),
        Shard::new(gpu, &[("t2", 4097)], config, &mut rng),
    ];
    for _ in 0..4 {
        let loss = rng.uniform(40.0, 160.0) as f32;
        for shard in &mut shards {
            write_grads(gpu, &shard.arena, &mut rng, 1.0, false);
            shard.record(gpu, |alig, encoder, local, _| {
                alig.record_local_grad_norm(encoder, local).unwrap();
            });
        }
        all_reduce(gpu, &shards);
        for shard in &mut shards {
            shard.record(gpu, |alig, encoder, local, global| {
                alig.record_global_update(encoder, &gpu.queue, Loss::Host(loss), global)
                    .unwrap();
                alig.record_local_param_norm(encoder, local).unwrap();
            });
        }
        all_reduce(gpu, &shards);
        for shard in &mut shards {
            shard.record(gpu, |alig, encoder, _, global| {
                alig.record_global_projection(encoder, global).unwrap();
            });
        }
    }
    for (k, shard) in shards.iter().enumerate() {
        out.push_run(&format!("shard {k}"), gpu, &shard.arena, &shard.alig);
    }
}

fn scenario() -> (Outputs, String) {
    let (windowed, plain) = gpus();
    let mut out = Outputs::default();
    groups_projection_windows(&windowed, &mut out);
    adjusted_momentum_loss_buffer(&plain, &mut out);
    sps_without_momentum(&plain, &mut out);
    mixed_precision(&plain, &mut out);
    sharded(&plain, &mut out);
    (out, plain.describe())
}

/// The golden file of this adapter: backend and adapter name, in file-name characters.
fn golden_path(gpu: &Gpu) -> PathBuf {
    let info = gpu.adapter.get_info();
    let raw = format!("{:?}-{}", info.backend, info.name).to_lowercase();
    let mut name = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if c != '-' || !name.ends_with('-') {
            name.push(c);
        }
    }
    let name = name.trim_matches('-').to_string();
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.txt"))
}

#[test]
fn every_option_gives_the_recorded_bits() {
    let (outputs, adapter) = scenario();
    let path = golden_path(&gpu_with(GpuRequest::default()));
    if std::env::var_os("WGPU_ALIG_GOLDEN_WRITE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, outputs.to_text(&adapter)).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(text) => outputs.assert_matches(&Outputs::from_text(&text)),
        Err(_) if std::env::var_os("WGPU_ALIG_GOLDEN_REQUIRED").is_some() => {
            panic!("no golden outputs for {adapter} at {}", path.display())
        }
        Err(_) => {
            let (again, _) = scenario();
            assert!(
                again == outputs,
                "two runs of the scenario differ on {adapter}"
            );
            eprintln!(
                "no golden outputs for {adapter} ({}): checked only that two runs agree bit for bit",
                path.display()
            );
        }
    }
}
