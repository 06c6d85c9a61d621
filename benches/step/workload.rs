//! One row of the table: N parameters split into equal tensors, momentum off or on, with the
//! crate's arena and optimizer (or, where the crate refuses the size, plain buffers of the
//! same layout so that the baselines still run).

use wgpu_alig::{Alig, AligConfig, Arena, ArenaLayout};

#[derive(Clone, Copy, Debug)]
pub struct RowSpec {
    /// Trainable parameters in total.
    pub n: usize,
    pub tensors: usize,
    pub momentum: bool,
}

impl RowSpec {
    /// Buffers the step streams through: g in pass 1; w, g (and z) in pass 2, w (and z) written.
    pub fn traffic_factor(&self) -> u64 {
        if self.momentum {
            5
        } else {
            3
        }
    }

    /// The minimum traffic of one step: 4 bytes * N * (1 + 2, or 1 + 2 + 2 with momentum).
    pub fn min_traffic_bytes(&self) -> u64 {
        4 * self.n as u64 * self.traffic_factor()
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
    pub params: &'a wgpu::Buffer,
    pub grads: &'a wgpu::Buffer,
    pub momentum: Option<&'a wgpu::Buffer>,
}

struct StandIn {
    params: wgpu::Buffer,
    grads: wgpu::Buffer,
    momentum: Option<wgpu::Buffer>,
}

pub struct Workload {
    pub layout: ArenaLayout,
    /// The crate's arena and optimizer, or why the crate refused this row.
    pub fused: Result<Fused, String>,
    stand_in: Option<StandIn>,
}

impl Workload {
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, spec: RowSpec) -> Self {
        let tensors = spec.tensor_list();
        let named: Vec<(&str, usize)> = tensors.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        let alignment = device.limits().min_storage_buffer_offset_alignment;
        let layout = ArenaLayout::new(&named, alignment).expect("valid layout");
        let fused = Arena::new(device, &named)
            .and_then(|arena| {
                let alig = Alig::new(device, &arena, spec.config())?;
                Ok(Fused { arena, alig })
            })
            .map_err(|e| format!("n/a ({e})"));
        let stand_in = match &fused {
            Ok(_) => None,
            Err(_) => StandIn::new(device, layout.byte_size(), spec.momentum),
        };
        let workload = Self {
            layout,
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
                params: f.arena.params_buffer(),
                grads: f.arena.grads_buffer(),
                momentum: f.alig.momentum_buffer(),
            }),
            (Err(_), Some(s)) => Some(Buffers {
                params: &s.params,
                grads: &s.grads,
                momentum: s.momentum.as_ref(),
            }),
            (Err(_), None) => None,
        }
    }

    /// Bytes of one buffer of the arena, padding included.
    pub fn arena_bytes(&self) -> u64 {
        self.layout.byte_size()
    }
}

impl StandIn {
    fn new(device: &wgpu::Device, bytes: u64, momentum: bool) -> Option<Self> {
        if bytes > device.limits().max_buffer_size {
            return None;
        }
        let create = |label| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        Some(Self {
            params: create("stand-in params"),
            grads: create("stand-in grads"),
            momentum: momentum.then(|| create("stand-in momentum")),
        })
    }
}

/// Floats written per `write_buffer`: the largest arenas (10^9 floats) are written in pieces,
/// so that no staging buffer or host copy of a whole buffer is needed.
const FILL_CHUNK: usize = 1 << 24;

/// Non-zero parameters and gradients (zero padding), so that the step does real arithmetic
/// and is never skipped.
fn fill(device: &wgpu::Device, queue: &wgpu::Queue, layout: &ArenaLayout, buffers: Buffers<'_>) {
    let mut rng = SplitMix64(0x5eed);
    for (buffer, scale) in [(buffers.params, 1.0), (buffers.grads, 1e-3)] {
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
            queue.write_buffer(buffer, 4 * start as u64, bytemuck::cast_slice(chunk));
            // Each write's staging copy is freed once its submit has run.
            queue.submit([]);
            crate::timer::wait_idle(device);
        }
    }
}

/// Small seeded generator: the data need not be good random numbers, only non-zero and fixed.
struct SplitMix64(u64);

impl SplitMix64 {
    /// Uniform in [-1, 1).
    fn signed_unit(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}
