//! The host's cost of one step: create an encoder, `record_step`, finish, `queue.submit`.
//! Measured pipelined (steps submitted back to back, with a wait every few steps so that work
//! cannot pile up without bound), as wall time and as the thread's CPU time, and on an idle
//! device (a wait after every step, outside the timed region) as wall time. `record_step`
//! alone is also timed: the crate's own share when the step joins the caller's encoder; and
//! the same commands without the crate, what wgpu and the driver charge whoever records them.

use std::time::{Duration, Instant};

use wgpu_alig::{Loss, Precision};

use crate::command_floor::CommandFloor;
use crate::cpu_time::HostTimes;
use crate::fused_step::BENCH_LOSS;
use crate::naive::Naive;
use crate::table::micros;
use crate::timer::{median, wait_idle, Timer};
use crate::workload::{Fused, RowSpec, Workload};

/// Steps submitted between two waits in the pipelined measurement.
pub const PIPELINE_DEPTH: usize = 16;
/// Parameters of the host-cost runs: small, so that the GPU work of a step stays short.
pub const RECORD_COST_N: usize = 10_000;

/// The median of per-step host times.
pub struct HostCost {
    pub median: Duration,
}

impl HostCost {
    /// `None` for no times (a clock this platform lacks).
    pub fn of(times: Vec<Duration>) -> Option<Self> {
        (!times.is_empty()).then(|| Self {
            median: median(times),
        })
    }
}

pub struct RecordCostRow {
    pub tensors: usize,
    /// `record_step` alone, pipelined, wall time.
    pub record_only: HostCost,
    pub pipelined_wall: HostCost,
    /// The host thread's CPU time, pipelined; `None` without a thread CPU clock.
    pub pipelined_cpu: Option<HostCost>,
    pub idle_wall: HostCost,
    /// The host thread's CPU time on an idle device: nothing blocks or spins in a wait.
    pub idle_cpu: Option<HostCost>,
    /// The naive step's two recordings + submits (the wait between excluded), wall time.
    pub naive_wall: Option<HostCost>,
    /// The same commands without the crate, idle device: wall, and CPU where there is a clock.
    pub floor_wall: HostCost,
    pub floor_cpu: Option<HostCost>,
}

/// Host times of steps: encoder to submit, and `record_step` alone (wall).
#[derive(Default)]
struct StepTimes {
    host: HostTimes,
    record: Vec<Duration>,
}

/// `steps` steps into `times`, with a wait (untimed) every `depth` steps.
fn time_steps(
    fused: &mut Fused,
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    steps: usize,
    depth: usize,
    times: &mut StepTimes,
) {
    for i in 0..steps {
        let record = times.host.time(|| {
            let mut encoder = device.create_command_encoder(&Default::default());
            let record_start = Instant::now();
            fused
                .alig
                .record_step(&mut encoder, queue, Loss::Host(BENCH_LOSS))
                .expect("record the step");
            let record = record_start.elapsed();
            queue.submit([encoder.finish()]);
            record
        });
        times.record.push(record);
        if (i + 1) % depth == 0 {
            wait_idle(device);
        }
    }
    wait_idle(device);
}

/// Measures and prints the host cost for 1 and 1000 tensors.
pub fn run_section(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    timer: &Timer,
    steps: usize,
) -> Vec<RecordCostRow> {
    print_legend(steps);
    let floor = CommandFloor::new(device);
    let mut rows = Vec::new();
    for tensors in [1, 1000] {
        let spec = RowSpec {
            n: RECORD_COST_N,
            tensors,
            momentum: true,
            precision: Precision::F32,
        };
        let mut workload = Workload::new(device, queue, spec);
        let naive = workload
            .buffers()
            .and_then(|b| Naive::new(device, &workload.layout, b, spec.config()).ok());
        let Ok(fused) = workload.fused.as_mut() else {
            println!("{tensors:>7} | n/a");
            continue;
        };
        let mut warmup = StepTimes::default();
        time_steps(
            fused,
            device,
            queue,
            steps / 10,
            PIPELINE_DEPTH,
            &mut warmup,
        );
        let mut pipelined = StepTimes::default();
        time_steps(fused, device, queue, steps, PIPELINE_DEPTH, &mut pipelined);
        // The step and the floor alternate, so that the host's drift hits both alike.
        let mut idle = StepTimes::default();
        let mut floor_times = HostTimes::default();
        for _ in 0..steps / 4 {
            time_steps(fused, device, queue, 1, 1, &mut idle);
            floor.time(device, queue, &mut floor_times);
        }
        let naive_wall = naive.and_then(|naive| {
            HostCost::of(
                (0..(steps / 20).max(5))
                    .map(|_| {
                        let cost = naive.record_cost(device, queue, timer);
                        cost.norm + cost.update
                    })
                    .collect(),
            )
        });
        let row = RecordCostRow {
            tensors,
            record_only: HostCost::of(pipelined.record).expect("timed steps"),
            pipelined_wall: HostCost::of(pipelined.host.wall).expect("timed steps"),
            pipelined_cpu: HostCost::of(pipelined.host.cpu),
            idle_wall: HostCost::of(idle.host.wall).expect("timed steps"),
            idle_cpu: HostCost::of(idle.host.cpu),
            naive_wall,
            floor_wall: HostCost::of(floor_times.wall).expect("timed steps"),
            floor_cpu: HostCost::of(floor_times.cpu),
        };
        let median = |c: &Option<HostCost>| micros(c.as_ref().map(|c| c.median));
        println!(
            "{:>7} | {:>14} {:>13} | {:>9} {:>8} | {:>16} | {:>10} {:>9} | {:>10}",
            tensors,
            micros(Some(row.pipelined_wall.median)),
            median(&row.pipelined_cpu),
            micros(Some(row.idle_wall.median)),
            median(&row.idle_cpu),
            micros(Some(row.record_only.median)),
            micros(Some(row.floor_wall.median)),
            median(&row.floor_cpu),
            median(&row.naive_wall),
        );
        rows.push(row);
    }
    rows
}

fn print_legend(steps: usize) {
    println!();
    println!("Host cost of one step: create encoder + record_step + finish + submit.");
    println!("Medians in microseconds, N = {RECORD_COST_N}, momentum on.");
    println!("  pipelined: {steps} steps, a wait every {PIPELINE_DEPTH} (untimed)");
    println!(
        "  idle:      {} steps, a wait after each (untimed)",
        steps / 4
    );
    println!(
        "  wall = host wall clock; CPU = the host thread's CPU time: time blocked is excluded"
    );
    println!("         (a submit waiting for a CPU driver), spinning in a wait is not");
    println!("  record_step only: the crate's share inside a caller's encoder (pipelined, wall)");
    println!(
        "  floor: the same commands without the crate (a 4-byte write_buffer and copy, one pass"
    );
    println!("         of two dispatches binding 4 and 8 buffers, finish, submit), idle device");
    println!("  naive: the baseline's two recordings + submits, its readback wait excluded (wall)");
    println!(
        "{:>7} | {:>14} {:>13} | {:>9} {:>8} | {:>16} | {:>10} {:>9} | {:>10}",
        "tensors",
        "pipelined wall",
        "pipelined CPU",
        "idle wall",
        "idle CPU",
        "record_step only",
        "floor wall",
        "floor CPU",
        "naive wall"
    );
    println!("{}", "-".repeat(114));
}
