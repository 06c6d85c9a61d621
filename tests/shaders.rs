//! Every shader variant, validated by naga and translated to SPIR-V, MSL, HLSL and GLSL with
//! every value of its `override` constants, so that a change that would break Vulkan, Metal,
//! DX12 or GL fails here, without a GPU.

use naga::back::{glsl, hlsl, msl, spv};
use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use naga::Module;
use wgpu_alig::shaders::{Kernel, Reduction, Specialization};
use wgpu_alig::Precision;

/// A kernel's `override` constants and their values.
type Constants = Vec<(&'static str, f64)>;

type Variant = (String, Kernel, Option<Reduction>, Precision, Constants);

/// Each kernel with each reduction it can use, each precision, and each distinct set of its
/// constants.
fn variants() -> Vec<Variant> {
    let mut out: Vec<Variant> = Vec::new();
    for kernel in Kernel::ALL {
        for reduction in [Reduction::Subgroup, Reduction::SharedMemory] {
            let reduction = kernel.reduction(reduction);
            for spec in Specialization::all() {
                let constants = kernel.constants(&spec);
                let precision = spec.precision;
                if !out.iter().any(|(_, k, r, p, c)| {
                    *k == kernel && *r == reduction && *p == precision && *c == constants
                }) {
                    let name = format!(
                        "{}/{reduction:?}/{precision:?}/{constants:?}",
                        kernel.entry_point()
                    );
                    out.push((name, kernel, reduction, precision, constants));
                }
            }
        }
    }
    out
}

fn validator(reduction: Option<Reduction>, precision: Precision) -> Validator {
    let mut capabilities = match reduction {
        Some(Reduction::Subgroup) => Capabilities::SUBGROUP,
        Some(Reduction::SharedMemory) | None => Capabilities::empty(),
    };
    if precision.needs_f16() {
        capabilities |= Capabilities::SHADER_FLOAT16;
    }
    let mut validator = Validator::new(ValidationFlags::all(), capabilities);
    validator
        .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
        .subgroup_operations(naga::valid::SubgroupOperationSet::all());
    validator
}

/// The kernel parsed, validated, and with its constants substituted, as a backend sees it.
fn specialized(
    name: &str,
    kernel: Kernel,
    reduction: Option<Reduction>,
    precision: Precision,
    constants: &[(&str, f64)],
) -> (Module, ModuleInfo) {
    let source = kernel.wgsl(reduction, precision);
    let module = naga::front::wgsl::parse_str(&source)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source)));
    let info = validator(reduction, precision)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source)));
    // The host sets exactly the constants the kernel declares.
    let mut declared: Vec<&str> = module
        .overrides
        .iter()
        .filter_map(|(_, o)| o.name.as_deref())
        .collect();
    let mut set: Vec<&str> = constants.iter().map(|c| c.0).collect();
    declared.sort_unstable();
    set.sort_unstable();
    assert_eq!(
        declared, set,
        "{name}: declared overrides vs constants set by the host"
    );
    let mut values = naga::back::PipelineConstants::default();
    for &(key, value) in constants {
        values.insert(key.to_string(), value);
    }
    let (module, info) =
        naga::back::pipeline_constants::process_overrides(&module, &info, None, &values)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    (module.into_owned(), info.into_owned())
}

#[test]
fn every_variant_validates_with_only_the_capabilities_it_needs() {
    let variants = variants();
    // Each for three precisions. Pass 1: two reductions x MASKED; pass 2: two reductions x
    // 2 x 2 x 3 x 2 x 2 constants; pass 3: no reduction x MASKED; the sharded step's two sums:
    // one each.
    assert_eq!(
        variants.len(),
        3 * (4 + 96 + 2 + 2),
        "{:?}",
        variants.iter().map(|v| &v.0).collect::<Vec<_>>()
    );
    for (name, kernel, reduction, precision, constants) in variants {
        let (module, _) = specialized(&name, kernel, reduction, precision, &constants);
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
    for (name, kernel, reduction, precision, constants) in variants() {
        let (module, info) = specialized(&name, kernel, reduction, precision, &constants);
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
    for (name, kernel, reduction, precision, constants) in variants() {
        let (module, info) = specialized(&name, kernel, reduction, precision, &constants);
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
    for (name, kernel, reduction, precision, constants) in variants() {
        let (module, info) = specialized(&name, kernel, reduction, precision, &constants);
        // f16 needs shader model 6.2.
        let options = hlsl::Options {
            shader_model: if precision.needs_f16() {
                hlsl::ShaderModel::V6_2
            } else {
                hlsl::ShaderModel::V6_0
            },
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
    // GL has neither subgroups nor f16 in wgpu: only the variants without them run there.
    for (name, kernel, reduction, precision, constants) in variants()
        .into_iter()
        .filter(|v| v.2 != Some(Reduction::Subgroup) && v.3 == Precision::F32)
    {
        let (module, info) = specialized(&name, kernel, reduction, precision, &constants);
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
