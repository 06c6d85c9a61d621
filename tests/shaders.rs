//! Every shader variant, validated by naga and translated to SPIR-V, MSL, HLSL and GLSL, so
//! that a change that would break Vulkan, Metal, DX12 or GL fails here, without a GPU.

use naga::back::{glsl, hlsl, msl, spv};
use naga::valid::{Capabilities, ValidationFlags, Validator};
use wgpu_alig::shaders::{Kernel, Reduction};

fn variants() -> Vec<(String, Kernel, Reduction)> {
    let mut out = Vec::new();
    for kernel in Kernel::ALL {
        for reduction in [Reduction::Subgroup, Reduction::Tree] {
            let reduction = kernel.reduction(reduction);
            if !out.iter().any(|&(_, k, r)| k == kernel && r == reduction) {
                out.push((
                    format!("{}/{reduction:?}", kernel.entry_point()),
                    kernel,
                    reduction,
                ));
            }
        }
    }
    out
}

fn validate(
    name: &str,
    kernel: Kernel,
    reduction: Reduction,
) -> (naga::Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(&kernel.wgsl(reduction))
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&kernel.wgsl(reduction))));
    let capabilities = match reduction {
        Reduction::Subgroup => Capabilities::SUBGROUP,
        Reduction::Tree => Capabilities::empty(),
    };
    let info = Validator::new(ValidationFlags::all(), capabilities)
        .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
        .subgroup_operations(naga::valid::SubgroupOperationSet::all())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&kernel.wgsl(reduction))));
    (module, info)
}

#[test]
fn every_variant_validates_with_only_the_capabilities_it_needs() {
    let variants = variants();
    assert_eq!(
        variants.len(),
        4,
        "pass 1 has two variants, passes 2 and 3 one: {variants:?}"
    );
    for (name, kernel, reduction) in variants {
        let (module, _) = validate(&name, kernel, reduction);
        assert!(
            module
                .entry_points
                .iter()
                .any(|e| e.name == kernel.entry_point()),
            "{name}: no entry point {}",
            kernel.entry_point()
        );
    }
}

#[test]
fn every_variant_translates_to_spirv() {
    for (name, kernel, reduction) in variants() {
        let (module, info) = validate(&name, kernel, reduction);
        let options = spv::Options {
            lang_version: (1, 3),
            ..Default::default()
        };
        let words = spv::write_vec(&module, &info, &options, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(words[0], 0x0723_0203, "{name}: SPIR-V magic number");
    }
}

#[test]
fn every_variant_translates_to_msl() {
    for (name, kernel, reduction) in variants() {
        let (module, info) = validate(&name, kernel, reduction);
        let options = msl::Options {
            lang_version: (2, 4),
            ..Default::default()
        };
        let (source, _) =
            msl::write_string(&module, &info, &options, &msl::PipelineOptions::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            source.contains(kernel.entry_point()),
            "{name}: entry point missing in MSL"
        );
    }
}

#[test]
fn every_variant_translates_to_hlsl() {
    for (name, kernel, reduction) in variants() {
        let (module, info) = validate(&name, kernel, reduction);
        let options = hlsl::Options {
            shader_model: hlsl::ShaderModel::V6_0,
            ..Default::default()
        };
        let mut source = String::new();
        hlsl::Writer::new(&mut source, &options, &hlsl::PipelineOptions::default())
            .write(&module, &info, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            source.contains("[numthreads(256, 1, 1)]"),
            "{name}: HLSL lacks the workgroup size"
        );
    }
}

#[test]
fn the_gl_variants_translate_to_glsl() {
    // GL has no subgroups in wgpu: only the tree variants ever run there.
    for (name, kernel, reduction) in variants().into_iter().filter(|v| v.2 == Reduction::Tree) {
        let (module, info) = validate(&name, kernel, reduction);
        let options = glsl::Options {
            version: glsl::Version::Desktop(430),
            ..Default::default()
        };
        let pipeline = glsl::PipelineOptions {
            shader_stage: naga::ShaderStage::Compute,
            entry_point: kernel.entry_point().to_string(),
            multiview: None,
        };
        let mut source = String::new();
        glsl::Writer::new(
            &mut source,
            &module,
            &info,
            &options,
            &pipeline,
            Default::default(),
        )
        .and_then(|mut writer| writer.write())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            source.starts_with("#version 430"),
            "{name}: unexpected GLSL header"
        );
    }
}
