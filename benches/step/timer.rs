//! GPU time from timestamp queries where the adapter has them, wall time around submit +
//! wait everywhere (and as the only clock where it has none).

use std::time::{Duration, Instant};

use crate::readback::map_read;

/// Most timed spans in one measurement (the naive baseline uses two: norm and update).
const MAX_SPANS: u32 = 4;

/// One run of one variant, from an idle device to an idle device.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Sum of the timed spans on the GPU clock; `None` without timestamp queries.
    pub gpu: Option<Duration>,
    /// Host wall time from the first recorded command to the end of the wait.
    pub wall: Duration,
}

impl Sample {
    /// The time the table reports: GPU time where there is one, else wall time.
    pub fn time(&self) -> Duration {
        self.gpu.unwrap_or(self.wall)
    }
}

struct Queries {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    period_ns: f64,
}

/// Hands out timestamp writes for up to [`MAX_SPANS`] spans and reads them back.
pub struct Timer {
    queries: Option<Queries>,
}

impl Timer {
    /// Timestamps where the device has them, unless `wall_clock_only` (to try the fallback).
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, wall_clock_only: bool) -> Self {
        if wall_clock_only || !device.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return Self { queries: None };
        }
        let count = 2 * MAX_SPANS;
        let bytes = u64::from(count) * 8;
        let set = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("bench timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let buffer = |usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("bench timestamps"),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        Self {
            queries: Some(Queries {
                set,
                resolve: buffer(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC),
                readback: buffer(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST),
                period_ns: f64::from(queue.get_timestamp_period()),
            }),
        }
    }

    /// What the "time" columns measure, for the table header.
    pub fn describe(&self) -> String {
        match &self.queries {
            Some(q) => format!(
                "GPU time from timestamp queries (period {} ns) at the start and end of the timed work",
                q.period_ns
            ),
            None => "WALL TIME around submit + wait (no timestamp queries on this adapter, or \
                     ALIG_BENCH_WALL_CLOCK set): every time includes the submit and wake-up latency"
                .to_string(),
        }
    }

    /// Timestamps at the start and end of a compute pass, timing it as span `span`.
    pub fn pass(&self, span: u32) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        self.writes(span, true, true)
    }

    /// Only the start of span `span`, for an otherwise empty pass before untimed-by-pass work
    /// such as a copy (Vulkan writes pass timestamps at the bottom of the pipe, so the end
    /// stamp waits for the work recorded before it).
    pub fn span_start(&self, span: u32) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        self.writes(span, true, false)
    }

    /// Only the end of span `span`; see [`Timer::span_start`].
    pub fn span_end(&self, span: u32) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        self.writes(span, false, true)
    }

    fn writes(
        &self,
        span: u32,
        start: bool,
        end: bool,
    ) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        assert!(span < MAX_SPANS);
        let q = self.queries.as_ref()?;
        Some(wgpu::ComputePassTimestampWrites {
            query_set: &q.set,
            beginning_of_pass_write_index: start.then_some(2 * span),
            end_of_pass_write_index: end.then_some(2 * span + 1),
        })
    }

    /// The summed duration of spans `0..spans` written by the last (finished) submission.
    pub fn read_spans(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        spans: u32,
    ) -> Option<Duration> {
        Some(self.read_each_span(device, queue, spans)?.into_iter().sum())
    }

    /// The duration of each of spans `0..spans` written by the last (finished) submission.
    pub fn read_each_span(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        spans: u32,
    ) -> Option<Vec<Duration>> {
        let q = self.queries.as_ref()?;
        let bytes = u64::from(spans) * 16;
        let mut encoder = device.create_command_encoder(&Default::default());
        encoder.resolve_query_set(&q.set, 0..2 * spans, &q.resolve, 0);
        encoder.copy_buffer_to_buffer(&q.resolve, 0, &q.readback, 0, bytes);
        queue.submit([encoder.finish()]);
        let ticks: Vec<u64> = map_read(device, &q.readback, ..bytes, bytemuck::pod_collect_to_vec)
            .expect("timestamp readback mapped");
        let span = |pair: &[u64]| {
            Duration::from_nanos((pair[1].saturating_sub(pair[0]) as f64 * q.period_ns) as u64)
        };
        Some(ticks.chunks_exact(2).map(span).collect())
    }
}

/// The median of `times` (the upper one of an even count; the runs are odd).
pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Blocks until the device has run everything submitted.
pub fn wait_idle(device: &wgpu::Device) {
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("device poll");
}

/// Records `record` into one encoder, submits it, waits, and reads back each of `spans`
/// spans (`None` without timestamp queries).
pub fn measure_each_span(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    timer: &Timer,
    spans: u32,
    record: impl FnOnce(&mut wgpu::CommandEncoder),
) -> Option<Vec<Duration>> {
    run(device, queue, record);
    timer.read_each_span(device, queue, spans)
}

/// Records `record` into one encoder, submits it and waits for the device.
fn run(device: &wgpu::Device, queue: &wgpu::Queue, record: impl FnOnce(&mut wgpu::CommandEncoder)) {
    let mut encoder = device.create_command_encoder(&Default::default());
    record(&mut encoder);
    queue.submit([encoder.finish()]);
    wait_idle(device);
}

/// Records `record` into one encoder, submits it, waits, and reads back `spans` spans.
pub fn measure(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    timer: &Timer,
    spans: u32,
    record: impl FnOnce(&mut wgpu::CommandEncoder),
) -> Sample {
    let start = Instant::now();
    run(device, queue, record);
    let wall = start.elapsed();
    Sample {
        gpu: timer.read_spans(device, queue, spans),
        wall,
    }
}
