//! The step in a browser, on WebGPU: wasm32 only, run by `wasm-bindgen-test-runner` in
//! headless Chromium (README, "On the web"). A device with WebGPU's default limits (8
//! storage buffers per stage, which the update kernel's bindings must fit; 128 MiB per
//! binding) and no subgroups, so the shared-memory reduction runs; steps with momentum
//! through the public API, read back with async reads only (nothing can block in a browser),
//! against the f64 reference with the native tests' tolerances (tests/reference_agreement.rs:
//! gamma 1e-6 relative, parameters and momentum 1e-5 relative to max(|value|, 1)).
#![cfg(target_arch = "wasm32")]

#[path = "common/compare.rs"]
mod compare;
#[path = "../examples/common/readback.rs"]
mod readback;

use compare::{assert_close, assert_rel, to_f64, Rng};
use readback::{copy_to_staging, map_read_async};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use wgpu_alig::reference::{AligReference, StepSize};
use wgpu_alig::shaders::Reduction;
use wgpu_alig::{
    Alig, AligConfig, Arena, Gpu, GpuRequest, Loss, MomentumKind, NormSlot, ShardNorm,
    StatsSnapshot,
};

wasm_bindgen_test_configure!(run_in_browser);

/// WebGPU's default limits, not the adapter's: what every browser gives a page that asks for
/// nothing more.
const STORAGE_BUFFERS_PER_STAGE: u32 = 8;
const STORAGE_BINDING_BYTES: u64 = 128 << 20;

/// A device on the browser's WebGPU adapter, with the default features and limits.
async fn webgpu_device() -> (wgpu::Device, wgpu::Queue) {
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
    descriptor.backends = wgpu::Backends::BROWSER_WEBGPU;
    let adapter = wgpu::Instance::new(descriptor)
        .request_adapter(&wgpu::RequestAdapterOptions::default())
        .await
        .unwrap_or_else(|e| panic!("this test needs a browser with WebGPU: {e}"));
    let info = adapter.get_info();
    web_log(&format!(
        "adapter: {:?}, {:?}",
        info.backend, info.device_type
    ));
    let (device, queue) = adapter
        .request_device(&wgpu::DeviceDescriptor {
            label: Some("web test"),
            required_limits: wgpu::Limits::default(),
            ..Default::default()
        })
        .await
        .expect("a device with WebGPU's default limits");
    let limits = device.limits();
    assert_eq!(
        limits.max_storage_buffers_per_shader_stage,
        STORAGE_BUFFERS_PER_STAGE
    );
    assert_eq!(
        limits.max_storage_buffer_binding_size,
        STORAGE_BINDING_BYTES
    );
    assert!(!device.features().contains(wgpu::Features::SUBGROUP));
    (device, queue)
}

/// Logs to the browser console, which the test runner prints.
fn web_log(line: &str) {
    wasm_bindgen_test::console_log!("{line}");
}

/// `size` bytes of `buffer` at `offset` as `f32`s: a copy into a staging buffer and an
/// awaited `map_async`, which the browser completes (the device needs no polling here).
async fn read_f32s(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    buffer: &wgpu::Buffer,
    offset: u64,
    size: u64,
) -> Vec<f32> {
    let staging = copy_to_staging(device, queue, buffer, offset, size);
    map_read_async(&staging, .., bytemuck::pod_collect_to_vec)
        .await
        .expect("the staging buffer mapped")
}

/// Parameters and momentum of tensor `name`, read asynchronously.
async fn read_tensor(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    arena: &Arena,
    alig: &Alig,
    name: &str,
) -> (Vec<f32>, Vec<f32>) {
    let slot = arena.tensor(name).expect("a tensor of the arena");
    let (offset, size) = (slot.byte_offset(), slot.byte_size());
    let params = read_f32s(device, queue, arena.params_buffer(), offset, size).await;
    let momentum = read_f32s(
        device,
        queue,
        alig.momentum_buffer().expect("momentum on"),
        offset,
        size,
    )
    .await;
    (params, momentum)
}

/// Runs `steps` steps of `config` over tensors of `sizes` (named `t0`, `t1`, ...) on the GPU
/// and on the f64 reference, the loss alternately from the host and from a GPU buffer, and
/// checks the records, parameters and momentum. With `fixed_gradient` every step reuses the
/// first step's gradients (keeps memory down for large arenas). Returns the dispatches per
/// step.
async fn run_against_reference(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    sizes: &[usize],
    config: AligConfig,
    steps: usize,
    fixed_gradient: bool,
) -> usize {
    let mut rng = Rng::new(7);
    let names: Vec<String> = (0..sizes.len()).map(|k| format!("t{k}")).collect();
    let tensors: Vec<(&str, usize)> = names
        .iter()
        .map(String::as_str)
        .zip(sizes.iter().copied())
        .collect();
    let arena = Arena::new(device, &tensors).expect("the arena");
    let mut init = Vec::with_capacity(sizes.len());
    for (name, &n) in names.iter().zip(sizes) {
        let values = rng.vec_f32(n, -1.0, 1.0);
        arena.write_params(queue, name, &values).expect("params");
        init.push(to_f64(&values));
    }
    // The browser's WGSL compiler is stricter than naga in places: say what it refused,
    // rather than finding no steps later.
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let mut alig = Alig::new(device, &arena, config).expect("the optimizer");
    if let Some(error) = scope.pop().await {
        panic!("building the optimizer: {error}");
    }
    assert_eq!(alig.reduction(), Reduction::SharedMemory);
    let mut reference = AligReference::new(config, init).expect("the reference");
    let losses = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("web test losses"),
        size: 4 * steps as u64,
        usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });

    let mut grads64: Vec<Vec<f64>> = Vec::new();
    let mut expected: Vec<StepSize> = Vec::new();
    for step in 0..steps {
        if step == 0 || !fixed_gradient {
            grads64.clear();
            for (name, &n) in names.iter().zip(sizes) {
                let grads = rng.vec_f32(n, -1.0, 1.0);
                arena.write_grads(queue, name, &grads).expect("grads");
                grads64.push(to_f64(&grads));
            }
        }
        let sq_norm: f64 = grads64.iter().flatten().map(|g| g * g).sum();
        // gamma_hat in [0.01, 0.1]: clipped by a max_lr of 0.05 about half of the time.
        let loss = (rng.uniform(0.01, 0.1) * sq_norm) as f32;
        let offset = 4 * step as u64;
        let loss_source = if step % 2 == 0 {
            Loss::Host(loss)
        } else {
            queue.write_buffer(&losses, offset, bytemuck::bytes_of(&loss));
            Loss::Buffer {
                buffer: &losses,
                offset,
            }
        };
        alig.step(device, queue, loss_source).expect("a step");
        expected.push(
            reference
                .step(f64::from(loss), &grads64)
                .expect("a reference step"),
        );
    }

    // Awaiting is enough in a browser: it polls the device.
    let stats: StatsSnapshot = alig.read_stats(device, queue).await.expect("the stats");
    assert_eq!(stats.steps as usize, steps);
    assert_eq!(stats.records.len(), steps);
    for (record, want) in stats.records.iter().zip(&expected) {
        let what = format!("{config:?}, sizes {sizes:?}, step {}", record.step);
        assert_eq!(record.flags, want.flags, "{what}: flags");
        assert_rel(&format!("{what}: gamma"), record.gamma, want.gamma, 1e-6);
        assert_rel(
            &format!("{what}: gamma_hat"),
            record.gamma_hat,
            want.gamma_hat,
            1e-6,
        );
    }
    for (k, name) in names.iter().enumerate() {
        let (params, momentum) = read_tensor(device, queue, &arena, &alig, name).await;
        let what = format!("{config:?}, sizes {sizes:?}, {name}");
        assert_close(
            &format!("{what}: params"),
            &params,
            &reference.params()[k],
            1e-5,
            1.0,
        );
        assert_close(
            &format!("{what}: momentum"),
            &momentum,
            &reference.momentum()[k],
            1e-5,
            1.0,
        );
    }
    alig.dispatches_per_step()
}

fn momentum_configs() -> [AligConfig; 2] {
    [
        AligConfig::paper(0.05),
        AligConfig {
            momentum: 0.9,
            momentum_kind: MomentumKind::Adjusted,
            ..AligConfig::default()
        },
    ]
}

#[wasm_bindgen_test]
async fn steps_with_momentum_match_the_reference() {
    let (device, queue) = webgpu_device().await;
    for config in momentum_configs() {
        let dispatches =
            run_against_reference(&device, &queue, &[1, 3, 255, 257, 4097], config, 6, false).await;
        assert_eq!(dispatches, 2);
    }
}

/// The projection's kernel compiles in the browser and matches the reference, and a sharded
/// step's kernels compile too (each browser's WGSL compiler has rules of its own).
#[wasm_bindgen_test]
async fn steps_with_projection_and_a_sharded_step_run() {
    let (device, queue) = webgpu_device().await;
    let config = AligConfig {
        max_norm: Some(10.0),
        ..AligConfig::paper(0.05)
    };
    let dispatches =
        run_against_reference(&device, &queue, &[1, 3, 255, 257, 4097], config, 4, false).await;
    assert_eq!(dispatches, 3);

    let arena = Arena::new(&device, &[("w", 300)]).expect("the arena");
    let mut alig = Alig::new(&device, &arena, config).expect("the optimizer");
    let norms = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("norms"),
        size: 2 * ShardNorm::SIZE,
        usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let slot = |offset| NormSlot {
        buffer: &norms,
        offset,
    };
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let mut encoder = device.create_command_encoder(&Default::default());
    alig.record_local_grad_norm(&mut encoder, slot(0))
        .expect("local");
    alig.record_global_update(&mut encoder, &queue, Loss::Host(1.0), slot(0))
        .expect("global");
    alig.record_local_param_norm(&mut encoder, slot(ShardNorm::SIZE))
        .expect("local params");
    alig.record_global_projection(&mut encoder, slot(ShardNorm::SIZE))
        .expect("global projection");
    queue.submit([encoder.finish()]);
    if let Some(error) = scope.pop().await {
        panic!("a sharded step: {error}");
    }
    let stats = alig.read_stats(&device, &queue).await.expect("the stats");
    assert_eq!(stats.steps, 1);
}

#[wasm_bindgen_test]
async fn an_arena_larger_than_one_binding_runs_in_windows() {
    let (device, queue) = webgpu_device().await;
    // 128 MiB and a little more: two windows, the large tensor across their edge.
    let sizes = [(STORAGE_BINDING_BYTES / 4) as usize - 5, 4099];
    let dispatches =
        run_against_reference(&device, &queue, &sizes, AligConfig::paper(0.05), 2, true).await;
    assert_eq!(dispatches, 4, "two dispatches per window");
}

#[wasm_bindgen_test]
async fn gpu_request_opens_the_browsers_webgpu() {
    let gpu = Gpu::request(GpuRequest::default())
        .await
        .unwrap_or_else(|e| panic!("this test needs a browser with WebGPU: {e}"));
    web_log(&format!("Gpu::request: {}", gpu.describe()));
    assert_eq!(gpu.adapter.get_info().backend, wgpu::Backend::BrowserWebGpu);
}
