//! Quickstart: fit a least-squares model on the GPU with ALI-G.
//!
//! The loss and gradients come from a WGSL kernel of this example that writes the gradients
//! straight into the optimizer's arena and the loss into a GPU buffer; each step records the
//! kernel and the optimizer step into one encoder, and nothing is read back until the end,
//! when the stats ring gives the loss and step size of every step.
//!
//! Run: `cargo run --release --example quickstart`

use wgpu::util::DeviceExt;
use wgpu_alig::{Alig, AligConfig, Arena, Gpu, Loss};

const NUM_SAMPLES: usize = 512;
const NUM_FEATURES: usize = 32;
const STEPS: usize = 40;
// The kernel keeps the residuals in workgroup memory (MAX_SAMPLES in least_squares.wgsl) and
// gives each weight, the bias and the loss a thread of its one workgroup (THREADS there).
const _: () = assert!(NUM_SAMPLES <= 1024 && NUM_FEATURES + 2 <= 256);

/// A small deterministic generator so that every run sees the same problem.
fn pseudo_random(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gpu = Gpu::new()?;
    println!("adapter: {}", gpu.describe());
    let (device, queue) = (&gpu.device, &gpu.queue);

    // A problem that a linear model interpolates exactly: y = X w_true + b_true.
    let mut seed = 7;
    let features: Vec<f32> = (0..NUM_SAMPLES * NUM_FEATURES)
        .map(|_| pseudo_random(&mut seed))
        .collect();
    let w_true: Vec<f32> = (0..NUM_FEATURES)
        .map(|_| pseudo_random(&mut seed))
        .collect();
    let b_true = 0.5;
    let targets: Vec<f32> = features
        .chunks(NUM_FEATURES)
        .map(|x| x.iter().zip(&w_true).map(|(a, b)| a * b).sum::<f32>() + b_true)
        .collect();

    // Every trainable tensor lives in the arena; the optimizer owns the momentum.
    let arena = Arena::new(device, &[("w", NUM_FEATURES), ("b", 1)])?;
    let mut alig = Alig::new(device, &arena, AligConfig::paper(1.0))?;

    let storage = |label, data: &[f32], usage| {
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::STORAGE | usage,
        })
    };
    let features_buffer = storage("features", &features, wgpu::BufferUsages::empty());
    let targets_buffer = storage("targets", &targets, wgpu::BufferUsages::empty());
    let loss_buffer = storage("loss", &[0.0], wgpu::BufferUsages::COPY_SRC);

    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("least_squares"),
        source: wgpu::ShaderSource::Wgsl(include_str!("quickstart/least_squares.wgsl").into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("least_squares"),
        layout: None,
        module: &module,
        entry_point: Some("least_squares"),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants: &[
                ("NUM_SAMPLES", NUM_SAMPLES as f64),
                ("NUM_FEATURES", NUM_FEATURES as f64),
            ],
            ..Default::default()
        },
        cache: None,
    });
    // The engine binds each tensor where it lives in the arena.
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("least_squares"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            entry(0, features_buffer.as_entire_buffer_binding()),
            entry(1, targets_buffer.as_entire_buffer_binding()),
            entry(2, arena.param_binding("w")?),
            entry(3, arena.param_binding("b")?),
            entry(4, arena.grad_binding("w")?),
            entry(5, arena.grad_binding("b")?),
            entry(6, loss_buffer.as_entire_buffer_binding()),
        ],
    });

    for _ in 0..STEPS {
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(1, 1, 1);
        }
        alig.record_step(
            &mut encoder,
            queue,
            Loss::Buffer {
                buffer: &loss_buffer,
                offset: 0,
            },
        )?;
        queue.submit([encoder.finish()]);
    }

    let stats = alig.read_stats_blocking(device, queue)?;
    println!(
        "{:>5} {:>12} {:>12} {:>10}",
        "step", "loss", "gamma", "clipped"
    );
    for record in &stats.records {
        println!(
            "{:>5} {:>12.4e} {:>12.4e} {:>10}",
            record.step,
            record.loss,
            record.gamma,
            record.flags.clipped()
        );
    }
    let w = arena.read_params(device, queue, "w")?;
    let distance = w
        .iter()
        .zip(&w_true)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f32>()
        .sqrt();
    println!("after {STEPS} steps: ||w - w_true|| = {distance:.3e}");
    Ok(())
}

fn entry(binding: u32, buffer: wgpu::BufferBinding<'_>) -> wgpu::BindGroupEntry<'_> {
    wgpu::BindGroupEntry {
        binding,
        resource: wgpu::BindingResource::Buffer(buffer),
    }
}
