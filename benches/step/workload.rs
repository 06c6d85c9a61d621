//! One row of the table: N parameters split into equal tensors, momentum off or on, in one
//! precision, with the crate's arena and optimizer (or, where the crate refuses the size,
//! plain buffers of the same layout and element types so that the baselines still run).

use wgpu_alig::{Alig, AligConfig, Arena, ArenaLayout, Precision};

use crate::split_mix::SplitMix64;

#[derive(Clone, Copy, Debug)]
pub struct RowSpec {
    /// Trainable parameters in total.
    pub n: usize,
    pub tensors: usize,
    pub momentum: bool,
    /// The arena's element types.
    pub precision: Precision,
}

impl RowSpec {
    /// Bytes per parameter that the step (and its roofline) moves: g read in pass 1; w, g
    /// (and z) read in pass 2, w (and z) written, and with [`Precision::F16`] the f16 copy
    /// of w written too.
    pub fn step_bytes_per_param(&self) -> u64 {
        self.precision.step_bytes_per_param(self.momentum)
    }

    /// Bytes per parameter of a step that read and wrote every buffer once: the step's less
    /// pass 1's read of g. With f32: 4 * (1 + 2), or 4 * (1 + 2 + 2) with momentum.
    pub fn min_bytes_per_param(&self) -> u64 {
        self.step_bytes_per_param() - self.precision.grad_bytes()
    }

    /// The minimum traffic of one step: N * [`RowSpec::min_bytes_per_param`].
    pub fn min_traffic_bytes(&self) -> u64 {
        self.n as u64 * self.min_bytes_per_param()
    }

    /// (name, length) of each tensor: N split as evenly as possible.
    pub fn tensor_list(&self) -> Vec<(String, usize)> {
        let base = self.n / self.tensors;
        let extra = self.n % self.tensors;
        (0..self.tensors)
            .map(|i| (format!("t{i}"), base + usize::from(i < extra)))
            .collect()
    }

    pub fn config(&self) -> AligConfig {
        AligConfig {
            max_lr: Some(0.1),
            momentum: if self.momentum { 0.9 } else { 0.0 },
            ..AligConfig::default()
        }
    }
}

/// The crate's side of a row.
pub struct Fused {
    pub arena: Arena,
    pub alig: Alig,
}

/// The buffers every variant of a row works on, laid out like the arena.
#[derive(Clone, Copy)]
pub struct Buffers<'a> {
    /// The element types: f16 `grads` unless [`Precision::F32`], `half_params` with
    /// [`Precision::F16`].
    pub precision: Precision,
    /// The f32 parameters the step updates (with [`Precision::F16`], the master).
    pub params: &'a wgpu::Buffer,
    pub grads: &'a wgpu::Buffer,
    pub momentum: Option<&'a wgpu::Buffer>,
    /// The f16 copy of the parameters that the step writes ([`Precision::F16`] only).
    pub half_params: Option<&'a wgpu::Buffer>,
}

struct StandIn {
    params: wgpu::Buffer,
    grads: wgpu::Buffer,
    momentum: Option<wgpu::Buffer>,
    half_params: Option<wgpu::Buffer>,
}

pub struct Workload {
    pub layout: ArenaLayout,
    precision: Precision,
    /// The crate's arena and optimizer, or why the crate refused this row.
    pub fused: Result<Fused, String>,
    stand_in: Option<StandIn>,
}

impl Workload {
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, spec: RowSpec) -> Self {
        let tensors = spec.tensor_list();
        let named: Vec<(&str, usize)> = tensors.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        // As `Arena::with_precision` aligns the tensors: twice the device's alignment for the
        // f16 kinds, so that both element sizes bind at valid offsets.
        let alignment = device.limits().min_storage_buffer_offset_alignment;
        let alignment = if spec.precision.needs_f16() {
            alignment.saturating_mul(2)
        } else {
            alignment
        };
        let layout = ArenaLayout::new(&named, alignment).expect("valid layout");
        let fused = Arena::with_precision(device, &named, spec.precision)
            .and_then(|arena| {
                let alig = Alig::new(device, &arena, spec.config())?;
                Ok(Fused { arena, alig })
            })
            .map_err(|e| format!("n/a ({e})"));
        let stand_in = match &fused {
            Ok(_) => None,
            Err(_) => StandIn::new(device, layout.byte_size(), spec.momentum, spec.precision),
        };
        let workload = Self {
            layout,
            precision: spec.precision,
            fused,
            stand_in,
        };
        if let Some(buffers) = workload.buffers() {
            fill(device, queue, &workload.layout, buffers);
        }
        workload
    }

    /// The row's buffers: the arena's where the crate took the row, else the stand-ins;
    /// `None` where not even one buffer of that size can be made.
    pub fn buffers(&self) -> Option<Buffers<'_>> {
        match (&self.fused, &self.stand_in) {
            (Ok(f), _) => Some(Buffers {
                precision: f.arena.precision(),
                params: f.arena.master_params_buffer(),
                grads: f.arena.grads_buffer(),
                momentum: f.alig.momentum_buffer(),
                half_params: f
                    .arena
                    .precision()
                    .has_master()
                    .then(|| f.arena.params_buffer()),
            }),
            (Err(_), Some(s)) => Some(Buffers {
                precision: self.precision,
                params: &s.params,
                grads: &s.grads,
                momentum: s.momentum.as_ref(),
                half_params: s.half_params.as_ref(),
            }),
            (Err(_), None) => None,
        }
    }

    /// Bytes of one f32 buffer of the arena, padding included (an f16 one has half).
    pub fn arena_bytes(&self) -> u64 {
        self.layout.byte_size()
    }
}

impl StandIn {
    /// `bytes`: of an f32 buffer.
    fn new(
        device: &wgpu::Device,
        bytes: u64,
        momentum: bool,
        precision: Precision,
    ) -> Option<Self> {
        if bytes > device.limits().max_buffer_size {
            return None;
        }
        let create = |label, element_bytes: u64| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes / 4 * element_bytes,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        Some(Self {
            params: create("stand-in params", 4),
            grads: create("stand-in grads", precision.grad_bytes()),
            momentum: momentum.then(|| create("stand-in momentum", 4)),
            half_params: precision
                .has_master()
                .then(|| create("stand-in f16 params", 2)),
        })
    }
}

/// Floats written per `write_buffer`: the largest arenas (10^9 floats) are written in pieces,
/// so that no staging buffer or host copy of a whole buffer is needed.
const FILL_CHUNK: usize = 1 << 24;

/// Non-zero parameters and gradients (zero padding), so that the step does real arithmetic
/// and is never skipped; f16 buffers get the same values rounded to f16 (the f16 copy of the
/// parameters those of the f32 ones).
fn fill(device: &wgpu::Device, queue: &wgpu::Queue, layout: &ArenaLayout, buffers: Buffers<'_>) {
    let mut rng = SplitMix64::new(0x5eed);
    let params: Vec<(&wgpu::Buffer, u64)> = std::iter::once((buffers.params, 4))
        .chain(buffers.half_params.map(|half| (half, 2)))
        .collect();
    let grads = vec![(buffers.grads, buffers.precision.grad_bytes())];
    for (targets, scale) in [(params, 1.0), (grads, 1e-3)] {
        // The same values as one write of the whole buffer: the generator runs over the
        // tensors in order, chunk after chunk.
        let mut slots = layout.tensors().iter().map(|slot| slot.range()).peekable();
        let mut data = vec![0f32; FILL_CHUNK.min(layout.len())];
        for start in (0..layout.len()).step_by(FILL_CHUNK) {
            let end = (start + FILL_CHUNK).min(layout.len());
            let chunk = &mut data[..end - start];
            chunk.fill(0.0);
            while let Some(range) = slots.peek_mut() {
                if range.start >= end {
                    break;
                }
                let stop = range.end.min(end);
                for v in &mut chunk[range.start - start..stop - start] {
                    *v = scale * rng.signed_unit();
                }
                if stop == range.end {
                    slots.next();
                } else {
                    range.start = stop;
                }
            }
            for &(buffer, element_bytes) in &targets {
                let offset = element_bytes * start as u64;
                if element_bytes == 2 {
                    let halves: Vec<half::f16> =
                        chunk.iter().map(|&v| half::f16::from_f32(v)).collect();
                    queue.write_buffer(buffer, offset, bytemuck::cast_slice(&halves));
                } else {
                    queue.write_buffer(buffer, offset, bytemuck::cast_slice(chunk));
                }
                // Each write's staging copy is freed once its submit has run.
                queue.submit([]);
                crate::timer::wait_idle(device);
            }
        }
    }
}
