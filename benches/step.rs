//! `cargo bench --bench step`: the crate's ALI-G step next to its roofline (a kernel moving
//! the same bytes), the adapter's copy bandwidth and the baseline a user would write without
//! the crate, side by side on one adapter; then what the tensor count costs, the host's cost
//! of recording a step, what the step's gap to its roofline is made of, and the project's
//! targets. `ALIG_BENCH_QUICK=1` (or `-- --quick`) for a smoke run,
//! `ALIG_BENCH_N=1e6,1.6e7` (or `-- --n 1e6,1.6e7`) to pick sizes, `ALIG_BENCH_WALL_CLOCK=1` to
//! time on the host's clock only (what an adapter without timestamp queries gets),
//! `ALIG_BENCH_HOST_SCALE=1` to run only the host cost of 10^3 to 10^5 tensors,
//! `ALIG_BENCH_SPLIT_SWEEP=1` to run only the work-split sweep (at the sizes of `ALIG_BENCH_N`),
//! `ALIG_BENCH_PER_PASS=1` to run only the per-pass times (at those sizes),
//! `ALIG_BENCH_CSV=FILE` to write the main table's rows (or the sweep's) to FILE as CSV too,
//! `ALIG_BENCH_PRECISION=f32,f16-grads,f16` (or `-- --precision ...`) to pick the precisions
//! of the main table's rows (by default all three; the f16 ones where the adapter has
//! `SHADER_F16`, each with its own same-bytes roofline).

#[path = "step/alternate.rs"]
mod alternate;
#[path = "step/command_floor.rs"]
mod command_floor;
#[path = "step/copy.rs"]
mod copy;
#[path = "step/cpu_time.rs"]
mod cpu_time;
#[path = "step/csv.rs"]
mod csv;
#[path = "step/fused_step.rs"]
mod fused_step;
#[path = "step/gap.rs"]
mod gap;
#[path = "step/host_scale.rs"]
mod host_scale;
#[path = "step/kernel.rs"]
mod kernel;
#[path = "step/naive.rs"]
mod naive;
#[path = "step/options.rs"]
mod options;
#[path = "step/per_pass.rs"]
mod per_pass;
#[path = "step/preamble.rs"]
mod preamble;
// The examples' and the tests' blocking reads of raw buffers.
#[path = "../examples/common/readback.rs"]
mod readback;
#[path = "step/record_cost.rs"]
mod record_cost;
#[path = "step/row.rs"]
mod row;
// The examples' and the tests' seeded generator.
#[path = "../examples/common/split_mix.rs"]
mod split_mix;
#[path = "step/split_sweep.rs"]
mod split_sweep;
#[path = "step/streaming.rs"]
mod streaming;
#[path = "step/table.rs"]
mod table;
#[path = "step/targets.rs"]
mod targets;
#[path = "step/tensor_count.rs"]
mod tensor_count;
#[path = "step/timer.rs"]
mod timer;
#[path = "step/workload.rs"]
mod workload;

use wgpu_alig::{Gpu, GpuRequest, Precision};

use crate::options::{Options, TENSOR_COUNTS};
use crate::timer::Timer;
use crate::workload::RowSpec;

fn main() {
    let options = Options::from_env_and_args();
    let request = GpuRequest {
        timestamps: true,
        ..GpuRequest::default()
    };
    let gpu = match pollster::block_on(Gpu::request(request)) {
        Ok(gpu) => gpu,
        Err(e) => {
            eprintln!("the step benchmark needs a GPU adapter: {e}");
            std::process::exit(1);
        }
    };
    let (device, queue) = (&gpu.device, &gpu.queue);
    let timer = Timer::new(device, queue, options.wall_clock_only);
    preamble::print(&gpu, &timer, &options);

    if options.host_scale_only {
        host_scale::run_section(device, queue, options.quick);
        host_scale::stats_read_section(device, queue);
        return;
    }
    if options.split_sweep_only {
        split_sweep::run_section(device, queue, &timer, &options);
        return;
    }
    if options.per_pass_only {
        per_pass::run_section(device, queue, &timer, &options);
        return;
    }
    let mut csv = options
        .csv
        .as_deref()
        .and_then(|path| csv::CsvFile::create(path, &table::CSV_HEADER));
    let precisions = table_precisions(device, &options.precisions);
    table::print_header();
    let mut rows = Vec::new();
    for &n in &options.sizes {
        for &tensors in &TENSOR_COUNTS {
            for momentum in [false, true] {
                for &precision in &precisions {
                    let spec = RowSpec {
                        n,
                        tensors,
                        momentum,
                        precision,
                    };
                    let row = row::run(device, queue, &timer, &options, spec);
                    table::print_row(&row);
                    if let Some(csv) = csv.as_mut() {
                        csv.line(table::csv_fields(&row));
                    }
                    rows.push(row);
                }
            }
        }
    }

    per_pass::run_section(device, queue, &timer, &options);
    let tensor_costs = tensor_count::run_section(device, queue, &timer, &options);
    let record_costs = record_cost::run_section(device, queue, &timer, options.record_cost_steps);
    host_scale::run_section(device, queue, options.quick);
    host_scale::stats_read_section(device, queue);
    let gap = gap::run_section(device, queue, &timer, &options);
    targets::print(&rows, &tensor_costs, &record_costs, gap.as_ref());
    println!();
    println!("host at the end: {}", preamble::host_load());
}

/// The precisions of the main table that this device can run: the f16 ones need
/// `SHADER_F16`, and without it their rows are left out, saying so before the table.
fn table_precisions(device: &wgpu::Device, wanted: &[Precision]) -> Vec<Precision> {
    let f16 = device.features().contains(wgpu::Features::SHADER_F16);
    let (run, skipped): (Vec<Precision>, Vec<Precision>) =
        wanted.iter().partition(|p| f16 || !p.needs_f16());
    if !skipped.is_empty() {
        let names: Vec<&str> = skipped.iter().map(|&p| table::precision_name(p)).collect();
        println!(
            "rows of {} skipped: the adapter has no SHADER_F16 (f16 arenas need it)",
            names.join(", ")
        );
        println!();
    }
    run
}
