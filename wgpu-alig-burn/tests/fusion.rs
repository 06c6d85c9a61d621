//! The suite runs with burn's fusion off (`cargo test`) and on (`cargo test --features
//! fusion`): each build reports the mode it was asked for, so that both runs test what they
//! claim to.

#[test]
fn burn_fusion_is_on_exactly_when_the_feature_asks() {
    assert_eq!(wgpu_alig_burn::burn_fusion(), cfg!(feature = "fusion"));
}
