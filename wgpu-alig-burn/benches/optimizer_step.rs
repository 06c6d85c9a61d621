//! Optimizer time per step of one burn model: the adapter (ALI-G, momentum 0.9) against burn's
//! own `SgdConfig` (plain, and with momentum 0.9, the same state traffic) and `AdamConfig`;
//! and the adapter's step against what it is made of: the core crate's step over an arena of
//! the same tensors, and the gradients' copies into it. The bytes the adapter's last step
//! copied (parameters, gradients) are printed with it.
//!
//! ```text
//! cargo bench --bench optimizer_step                     # small (10^4 params, 10 tensors) and large (10^7, 100)
//! cargo bench --bench optimizer_step -- small            # one size
//! cargo bench --features fusion --bench optimizer_step   # with burn's fusion on
//! ```
//!
//! Each timing is wall time from a synchronised device to the step's work being done on the
//! GPU (burn's `Device::sync` and a wgpu wait): host dispatch and GPU time together.

use std::time::{Duration, Instant};

use burn::module::{Module, Param};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Distribution, Tensor};
use wgpu_alig::{Alig, AligConfig, Arena, Loss};
use wgpu_alig_burn::{AligOptimizer, SharedDevice, StepCopies, burn_fusion};

/// A model of `tensors` trainable vectors, `len` elements each.
#[derive(Module, Debug)]
struct Tensors {
    params: Vec<Param<Tensor<1>>>,
}

impl Tensors {
    fn new(tensors: usize, len: usize, device: &Device) -> Self {
        let params = (0..tensors)
            .map(|_| {
                Param::from_tensor(Tensor::<1>::random(
                    [len],
                    Distribution::Uniform(-1.0, 1.0),
                    device,
                ))
            })
            .collect();
        Self { params }
    }

    /// `sum_k sum(t_k^2) / n`: a one-element loss with a gradient for every tensor.
    fn loss(&self) -> Tensor<1> {
        let n = self.params.len() as f64 * self.params[0].val().dims()[0] as f64;
        let mut sums = self.params.iter().map(|p| {
            let t = p.val();
            (t.clone() * t).sum()
        });
        let first = sums.next().expect("at least one tensor");
        sums.fold(first, |acc, s| acc + s).div_scalar(n)
    }
}

enum Optimizer {
    Alig(AligOptimizer),
    Burn(ModuleOptimizer, f64),
}

struct Size {
    name: &'static str,
    tensors: usize,
    len: usize,
    iterations: usize,
}

const SIZES: [Size; 2] = [
    Size {
        name: "small",
        tensors: 10,
        len: 1_000,
        iterations: 60,
    },
    Size {
        name: "large",
        tensors: 100,
        len: 100_000,
        iterations: 15,
    },
];
const WARMUP: usize = 3;

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let shared = SharedDevice::open().expect("an adapter");
    println!(
        "adapter: {}; burn's fusion: {}",
        shared.describe(),
        burn_fusion()
    );
    let device = shared.burn_device();
    println!(
        "| size | params | tensors | ALI-G (adapter) | core step | gradient copies | burn SGD | SGD, momentum | Adam | copied per step (params, grads) | ALI-G / (core + copies) | SGD / ALI-G | SGD momentum / ALI-G | Adam / ALI-G |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for size in SIZES
        .iter()
        .filter(|s| filter.as_deref().is_none_or(|f| f == s.name))
    {
        let (alig, copied) = time(&shared, &device, size, &|| {
            Optimizer::Alig(AligOptimizer::new(&shared, AligConfig::paper(0.1)).unwrap())
        });
        let core = time_core(&shared, size);
        let copies = time_grad_copies(&shared, size);
        let burn = |make: &dyn Fn() -> Optimizer| time(&shared, &device, size, make).0;
        let sgd = burn(&|| Optimizer::Burn(SgdConfig::new().init(), 0.1));
        let momentum = Some(MomentumConfig::new());
        let sgd_momentum =
            burn(&|| Optimizer::Burn(SgdConfig::new().with_momentum(momentum.clone()).init(), 0.1));
        let adam = burn(&|| Optimizer::Burn(AdamConfig::new().init(), 1e-3));
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
        let over = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        let mb = |bytes: u64| format!("{:.2} MB", bytes as f64 / 1e6);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}, {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            size.name,
            size.tensors * size.len,
            size.tensors,
            ms(alig),
            ms(core),
            ms(copies),
            ms(sgd),
            ms(sgd_momentum),
            ms(adam),
            mb(copied.param_bytes),
            mb(copied.grad_bytes),
            over(alig, core + copies),
            over(sgd, alig),
            over(sgd_momentum, alig),
            over(adam, alig),
        );
    }
    // Burn keeps its devices: stop its work on this one before the process exits.
    shared.shutdown().expect("the device shuts down");
}

/// Waits for everything submitted on the shared device, burn's work and the optimizer's.
fn sync(shared: &SharedDevice, device: &Device) {
    device.sync().expect("burn's device syncs");
    shared
        .device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("the device waits");
}

/// The median optimizer time per step of `size` with the optimizer `make` builds, and the
/// bytes the adapter's last step copied (none for burn's optimizers).
fn time(
    shared: &SharedDevice,
    device: &Device,
    size: &Size,
    make: &dyn Fn() -> Optimizer,
) -> (Duration, StepCopies) {
    let mut model = Tensors::new(size.tensors, size.len, device);
    let mut optimizer = make();
    let mut times = Vec::with_capacity(size.iterations);
    for iteration in 0..WARMUP + size.iterations {
        let loss = model.loss();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        sync(shared, device);
        let started = Instant::now();
        model = match &mut optimizer {
            Optimizer::Alig(alig) => alig.step(&loss, model, grads).unwrap(),
            Optimizer::Burn(optim, lr) => optim.step(*lr, model, grads),
        };
        sync(shared, device);
        if iteration >= WARMUP {
            times.push(started.elapsed());
        }
    }
    let copied = match &optimizer {
        Optimizer::Alig(alig) => alig.last_step_copies(),
        Optimizer::Burn(..) => StepCopies::default(),
    };
    (median(times), copied)
}

/// The core crate's step alone over an arena of the same tensors: the adapter's step without
/// the gradients' copies and the look-ups in burn's runtime.
fn time_core(shared: &SharedDevice, size: &Size) -> Duration {
    let (arena, _) = arena_of(shared, size);
    let values: Vec<f32> = (0..arena.layout().num_elements())
        .map(|i| ((i % 7) as f32 - 3.0) * 0.1)
        .collect();
    arena.write_all_params(&shared.queue, &values).unwrap();
    arena.write_all_grads(&shared.queue, &values).unwrap();
    let mut alig = Alig::new(&shared.device, &arena, AligConfig::paper(0.1)).unwrap();
    time_submits(shared, size, || {
        alig.step(&shared.device, &shared.queue, Loss::Host(1.0))
            .unwrap();
    })
}

/// The gradients' copies alone: every gradient from a buffer of its own into an arena, in one
/// encoder (as the adapter copies burn's).
fn time_grad_copies(shared: &SharedDevice, size: &Size) -> Duration {
    let bytes = size.len as u64 * 4;
    let (arena, offsets) = arena_of(shared, size);
    let grads: Vec<wgpu::Buffer> = (0..size.tensors)
        .map(|_| {
            shared.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("engine gradient"),
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        })
        .collect();
    time_submits(shared, size, || {
        let mut encoder = shared.device.create_command_encoder(&Default::default());
        for (grad, &offset) in grads.iter().zip(&offsets) {
            encoder.copy_buffer_to_buffer(grad, 0, arena.grads_buffer(), offset, bytes);
        }
        shared.queue.submit([encoder.finish()]);
    })
}

/// An arena of `size`'s tensors, and their byte offsets.
fn arena_of(shared: &SharedDevice, size: &Size) -> (Arena, Vec<u64>) {
    let names: Vec<String> = (0..size.tensors).map(|k| format!("t{k}")).collect();
    let tensors: Vec<(&str, usize)> = names.iter().map(|n| (n.as_str(), size.len)).collect();
    let arena = Arena::new(&shared.device, &tensors).unwrap();
    let offsets = arena
        .layout()
        .tensors()
        .iter()
        .map(|slot| slot.byte_offset())
        .collect();
    (arena, offsets)
}

/// The median wall time of `submit` to its work being done on the device.
fn time_submits(shared: &SharedDevice, size: &Size, mut submit: impl FnMut()) -> Duration {
    let wait = || {
        shared
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("the device waits");
    };
    let mut times = Vec::with_capacity(size.iterations);
    for iteration in 0..WARMUP + size.iterations {
        wait();
        let started = Instant::now();
        submit();
        wait();
        if iteration >= WARMUP {
            times.push(started.elapsed());
        }
    }
    median(times)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}
