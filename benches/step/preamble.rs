//! What the reader needs before the numbers: date, adapter, clock, and how to read the table.

use wgpu_alig::shaders::Reduction;
use wgpu_alig::{Gpu, WorkSplit};

use crate::options::Options;
use crate::timer::Timer;

pub fn print(gpu: &Gpu, timer: &Timer, options: &Options) {
    let info = gpu.adapter.get_info();
    let limits = gpu.device.limits();
    println!("wgpu-alig step benchmark, {} (UTC)", utc_date());
    println!("adapter: {}", gpu.describe());
    let split = WorkSplit::for_device(&gpu.device);
    println!(
        "backend: {:?}, device type: {:?}, workgroup reduction: {:?}, max storage binding: {} MiB",
        info.backend,
        info.device_type,
        Reduction::for_device(&gpu.device),
        limits.max_storage_buffer_binding_size >> 20,
    );
    println!(
        "work split (step, roof and naive kernels): {} vec4s per thread, at most {} workgroups per window",
        split.vec4_per_thread(),
        split.max_workgroups()
    );
    println!("clock: {}", timer.describe());
    println!("host: {}", host_load());
    if options.quick {
        println!("mode: QUICK (ALIG_BENCH_QUICK / --quick): few repetitions, small sizes only");
    }
    println!();
    println!("Each row: N trainable parameters split into equal tensors, momentum off or on (0.9,");
    println!("Nesterov), max_lr 0.1, host loss, in one precision (`prec`: f32; f16-grads, f16");
    println!("gradients; f16, f16 gradients and parameters with the f32 master the step updates).");
    println!("Four variants on the same buffers, interleaved:");
    println!(
        "  step      the crate's step: one compute pass, two dispatches (timed pass start to end)"
    );
    println!(
        "  roof      streaming kernels moving exactly the step's bytes with no arithmetic to speak"
    );
    println!("            of, same pass/dispatch structure and workgroup count: the roofline");
    println!("            (the step also reads pass 1's partials in every workgroup of pass 2:");
    println!("            8 B x workgroups^2, cache-resident, not counted in the traffic below);");
    println!("            each precision's roof reads and writes that precision's element types");
    println!("  copy      copy_buffer_to_buffer of half the minimum traffic (read + written = it)");
    println!(
        "  naive     one dispatch per tensor for the norm, partials read back (map + wait), step"
    );
    println!("            size on the host, one dispatch per tensor for the update (same element");
    println!("            types as the step)");
    println!("Times are medians over `reps` repetitions after warm-up, each from an idle device.");
    println!(
        "B/p   = bytes per parameter the step and its roof move (Precision::step_bytes_per_param):"
    );
    println!(
        "        g read in pass 1; w, g (, z) read and w (, z) written in pass 2, and with f16"
    );
    println!("        the f16 copy of w written; f32 w and z, g of 4 B (f32) or 2 B (f16).");
    println!(
        "GB/s  = minimum traffic / time, minimum traffic = N * (B/p - the bytes of one g): every"
    );
    println!(
        "        buffer read or written once; with f32, 4 B * N * (1 + 2) without momentum and"
    );
    println!(
        "        4 B * N * (1 + 2 + 2) with. Padding is not counted; `arena` = arena elements / N"
    );
    println!("        (the step, roof and copy all move the arena's bytes, padding included).");
    println!("frac  = roof time / step time: the fraction of the roofline the step reaches.");
    println!(
        "n/s   = naive wall / step wall (same clock for both: the naive step's host round trip is"
    );
    println!("        wall time). `naive gpu` = GPU time of the naive's two passes, round trip excluded.");
    println!();
}

/// Host cores and load: a busy host slows every variant of a row alike (they are
/// interleaved), so ratios survive it better than absolute times.
pub fn host_load() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").ok().map(|text| {
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    });
    match load {
        Some(load) => format!("{cores} cores, load average (1, 5, 15 min) {load}"),
        None => format!("{cores} cores"),
    }
}

/// Today's date from the system clock, as YYYY-MM-DD (civil-from-days, proleptic Gregorian).
fn utc_date() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (seconds / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
