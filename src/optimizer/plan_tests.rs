//! The step plan on the CPU: windows, uniform blocks, chunk table, buffer sizes, setters.
use super::*;
use crate::optimizer::config::MomentumKind;
use crate::optimizer::loss_scale::LossScale;

fn shape(max_binding: u64, uniform_alignment: u32, split: WorkSplit) -> DeviceShape {
    DeviceShape {
        limits: wgpu::Limits {
            max_storage_buffer_binding_size: max_binding,
            min_uniform_buffer_offset_alignment: uniform_alignment,
            ..wgpu::Limits::default()
        },
        split,
    }
}

/// A config whose stats ring fits the small bindings of these tests.
fn small_ring() -> AligConfig {
    AligConfig {
        stats_capacity: 16,
        ..AligConfig::default()
    }
}

fn one_group(layout: &ArenaLayout, max_lr: Option<f32>, momentum: f32) -> Vec<ParamGroup> {
    let names: Vec<&str> = layout.tensors().iter().map(|t| t.name.as_str()).collect();
    vec![ParamGroup::new(&names, max_lr, momentum)]
}

#[test]
fn one_window_holds_an_arena_that_fits_one_binding() {
    let layout = ArenaLayout::new(&[("a", 1), ("b", 3), ("c", 255), ("d", 4097)], 256).unwrap();
    let groups = one_group(&layout, Some(0.1), 0.9);
    let device = shape(1 << 27, 256, WorkSplit::GPU);
    let plan = StepPlan::new(
        &layout,
        Precision::F32,
        AligConfig::default(),
        &groups,
        &device,
    )
    .unwrap();
    assert_eq!(plan.windows.len(), 1);
    let window = &plan.windows[0];
    assert_eq!(window.bytes, 0..layout.byte_size());
    assert_eq!(u64::from(window.uniforms.len_vec4) * 16, layout.byte_size());
    assert_eq!(
        window.workgroups,
        WorkSplit::GPU.workgroups(window.uniforms.len_vec4)
    );
    assert_eq!(plan.num_partials, window.workgroups);
    assert_eq!(window.uniforms.options, OPTION_WRITES_RECORD);
    assert_eq!(plan.dispatches_per_step(), 2);
    // The groups hold max_lr and momentum; the config reports the first group's.
    assert_eq!(plan.config.max_lr, Some(0.1));
    assert_eq!(plan.config.momentum, 0.9);
    assert_eq!(plan.specialization.momentum, Some(MomentumKind::Nesterov));
    // Padding after a, b, c and d: the kernels mask.
    assert!(plan.specialization.masked);
    assert!(!plan.specialization.grouped);
}

#[test]
fn windows_split_the_arena_at_aligned_offsets_and_count_every_partial() {
    // 5.2 KiB of tensors in 1 KiB bindings, tensors across the windows' edges.
    let layout = ArenaLayout::new(&[("a", 1000), ("b", 3), ("c", 257)], 256).unwrap();
    let groups = one_group(&layout, None, 0.0);
    let config = AligConfig {
        max_norm: Some(10.0),
        stats_capacity: 16,
        ..AligConfig::default()
    };
    let device = shape(1024, 256, WorkSplit::CPU);
    let plan = StepPlan::new(&layout, Precision::F32, config, &groups, &device).unwrap();
    assert_eq!(
        plan.windows.len(),
        layout.byte_size().div_ceil(1024) as usize
    );
    assert_eq!(plan.dispatches_per_step(), 3 * plan.windows.len());
    let mut next_byte = 0;
    let mut next_partial = 0;
    for (index, window) in plan.windows.iter().enumerate() {
        assert_eq!(window.bytes.start, next_byte);
        assert_eq!(window.bytes.start % 256, 0);
        assert!(window.bytes.end - window.bytes.start <= 1024);
        let block = &window.uniforms;
        assert_eq!(block.partial_base, next_partial);
        assert_eq!(u64::from(block.chunk_base) * 256, window.bytes.start);
        assert_eq!(block.num_partials, plan.num_partials);
        // Only the first window writes the step record; no group has a max_lr.
        let writes = if index == 0 { OPTION_WRITES_RECORD } else { 0 };
        assert_eq!(block.options, writes | OPTION_UNBOUNDED_GROUP);
        assert_eq!(block.max_norm, 10.0);
        next_byte = window.bytes.end;
        next_partial += window.workgroups;
    }
    assert_eq!(next_byte, layout.byte_size());
    assert_eq!(next_partial, plan.num_partials);
}

#[test]
fn uniform_blocks_sit_at_valid_offsets() {
    let layout = ArenaLayout::new(&[("a", 4096)], 256).unwrap();
    let groups = one_group(&layout, Some(1.0), 0.0);
    for alignment in [64, 256] {
        let device = shape(4096, alignment, WorkSplit::GPU);
        let plan = StepPlan::new(&layout, Precision::F32, small_ring(), &groups, &device).unwrap();
        assert_eq!(plan.windows.len(), 4);
        assert_eq!(plan.uniform_stride % u64::from(alignment), 0);
        let size = std::mem::size_of::<AligUniforms>();
        assert!(plan.uniform_stride >= size as u64);
        let bytes = plan.uniform_bytes();
        assert_eq!(bytes.len() as u64, 4 * plan.uniform_stride);
        for (k, window) in plan.windows.iter().enumerate() {
            let at = plan.uniform_offset(k) as usize;
            assert_eq!(&bytes[at..at + size], bytemuck::bytes_of(&window.uniforms));
        }
        // Whole chunks, no frozen tensor: nothing to mask.
        assert!(!plan.specialization.masked);
    }
}

#[test]
fn frozen_tensors_and_groups_go_into_the_chunk_table() {
    let layout = ArenaLayout::new(&[("a", 64), ("frozen", 64), ("b", 128)], 256).unwrap();
    let groups = [
        ParamGroup::new(&["a"], Some(0.5), 0.9),
        ParamGroup::new(&["b"], None, 0.0),
    ];
    let device = shape(1 << 27, 256, WorkSplit::GPU);
    let plan = StepPlan::new(
        &layout,
        Precision::F32,
        AligConfig::default(),
        &groups,
        &device,
    )
    .unwrap();
    assert_eq!(plan.tensor_groups, [Some(0), None, Some(1)]);
    assert!(plan.specialization.grouped);
    assert!(plan.specialization.masked, "the frozen tensor is masked");
    assert_eq!(plan.chunk_table.len(), layout.len() / CHUNK_FLOATS);
    let params = plan.group_params();
    assert_eq!(params[0].options, GROUP_HAS_MAX_LR);
    assert_eq!((params[1].max_lr, params[1].options), (0.0, 0));
    assert_eq!(
        plan.windows[0].uniforms.options & OPTION_UNBOUNDED_GROUP,
        OPTION_UNBOUNDED_GROUP
    );
}

#[test]
fn buffer_sizes_follow_partials_capacity_and_loss_scale() {
    let layout = ArenaLayout::new(&[("a", 100_000)], 512).unwrap();
    let groups = one_group(&layout, Some(1.0), 0.9);
    let config = AligConfig {
        stats_capacity: 7,
        loss_scale: LossScale::Fixed(256.0),
        ..AligConfig::default()
    };
    let device = shape(1 << 27, 256, WorkSplit::CPU);
    let plan = StepPlan::new(&layout, Precision::F16, config, &groups, &device).unwrap();
    let partial = std::mem::size_of::<Partial>() as u64;
    // Gradients', parameters', the loss scale's slot, the parameters' scaled range.
    assert_eq!(
        plan.partials_bytes(),
        (3 * u64::from(plan.num_partials) + 1) * partial
    );
    assert_eq!(
        plan.next_loss_scale_offset(),
        2 * u64::from(plan.num_partials) * partial
    );
    assert_eq!(
        plan.param_big_partials_offset() + plan.partials_set_bytes(),
        plan.partials_bytes()
    );
    let header = std::mem::size_of::<StepStateHeader>() as u64;
    let record = std::mem::size_of::<StepRecord>() as u64;
    assert_eq!(plan.state_bytes(), header + 7 * record);
    let state = plan.initial_state();
    assert_eq!(state.len() as u64, plan.state_bytes());
    let head: StepStateHeader = bytemuck::pod_read_unaligned(&state[..header as usize]);
    assert_eq!(head.loss_scale, 256.0);
    assert!(state[header as usize..].iter().all(|&b| b == 0));
    assert!(plan.specialization.loss_scaled);
    assert_eq!(plan.specialization.precision, Precision::F16);
}

#[test]
fn setters_rewrite_the_groups_and_every_block() {
    let layout = ArenaLayout::new(&[("a", 3000)], 256).unwrap();
    let groups = one_group(&layout, Some(0.1), 0.5);
    let device = shape(4096, 256, WorkSplit::GPU);
    let mut plan = StepPlan::new(&layout, Precision::F32, small_ring(), &groups, &device).unwrap();
    plan.set_max_lr(0, None, 3);
    plan.set_momentum(0, 0.25);
    assert_eq!((plan.config.max_lr, plan.config.momentum), (None, 0.25));
    for window in &plan.windows {
        assert_eq!(window.uniforms.max_lr_version, 3);
        assert_ne!(window.uniforms.options & OPTION_UNBOUNDED_GROUP, 0);
    }
    plan.set_max_lr(0, Some(0.2), 4);
    assert!(plan
        .windows
        .iter()
        .all(|w| w.uniforms.options & OPTION_UNBOUNDED_GROUP == 0));
}

#[test]
fn invalid_settings_are_refused_before_any_plan() {
    let layout = ArenaLayout::new(&[("a", 10)], 256).unwrap();
    let groups = one_group(&layout, None, 0.0);
    let device = shape(1 << 27, 256, WorkSplit::GPU);
    let bad_eps = AligConfig {
        eps: -1.0,
        ..AligConfig::default()
    };
    assert!(matches!(
        StepPlan::new(&layout, Precision::F32, bad_eps, &groups, &device),
        Err(Error::InvalidEps(_))
    ));
    let unknown = [ParamGroup::new(&["nope"], None, 0.0)];
    assert!(StepPlan::new(
        &layout,
        Precision::F32,
        AligConfig::default(),
        &unknown,
        &device
    )
    .is_err());
}
