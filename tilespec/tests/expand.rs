//! tiles.toml parsing, expansion and each validity rule.

use tilespec::{Arch, Rule, SpecError, expand};

const FAMILY: &str = r#"
archs = ["sm_89"]
[[family]]
kernel = "v1"
dtypes = ["bf16"]
head_dims = [128]
causal = [false]
block_m = [64, 128]
block_n = [64]
warps = [2, 8]
stages = [2]
"#;

#[test]
fn products_expand_and_invalid_members_are_dropped_once_per_rule() {
    let e = expand(FAMILY).unwrap();
    // (64, w2) and (128, w8) are valid (32 and 16 rows per warp); (64, w8) and
    // (128, w2) break "16 or 32 rows per warp".
    let names: Vec<_> = e.variants.iter().map(|v| v.entry_name()).collect();
    assert_eq!(
        names,
        [
            "attn_fwd_v1_d128_bf16_bm128_bn64_w8_s2_noncausal",
            "attn_fwd_v1_d128_bf16_bm64_bn64_w2_s2_noncausal"
        ]
    );
    assert_eq!(e.dropped.len(), 1);
    assert_eq!(
        (e.dropped[0].rule, e.dropped[0].count),
        (Rule::RowsPerWarp, 2)
    );
    assert!(e.dropped[0].to_string().contains("family #1"));
}

fn explicit(fields: &str) -> Result<tilespec::Expansion, SpecError> {
    expand(&format!("archs = [\"sm_89\"]\n[[variant]]\n{fields}"))
}

fn variant(kernel: &str, d: u32, bm: u32, bn: u32, warps: u32, stages: u32) -> String {
    format!(
        "kernel = \"{kernel}\"\ndtype = \"bf16\"\nhead_dim = {d}\ncausal = true\nblock_m = {bm}\nblock_n = {bn}\nwarps = {warps}\nstages = {stages}"
    )
}

#[test]
fn an_invalid_explicit_variant_names_itself_and_the_rule() {
    let cases = [
        (variant("v0", 96, 64, 32, 4, 1), Rule::HeadDim),
        (variant("v0", 64, 64, 32, 64, 1), Rule::ThreadsPerBlock),
        (variant("v1", 64, 64, 64, 8, 2), Rule::RowsPerWarp),
        (variant("v1", 64, 64, 40, 4, 2), Rule::TileDivisibility),
        (variant("v1", 64, 64, 64, 4, 1), Rule::Stages),
        (variant("v1", 128, 128, 128, 8, 3), Rule::SharedMemory),
    ];
    for (fields, rule) in cases {
        match explicit(&fields) {
            Err(e @ SpecError::InvalidVariant { .. }) => {
                let SpecError::InvalidVariant { name, rule: r, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(*r, rule, "{name}");
                let msg = e.to_string();
                assert!(
                    msg.contains(name.as_str()) && msg.contains(rule.describe()),
                    "{msg}"
                );
            }
            other => panic!("{fields}: expected {rule:?}, got {other:?}"),
        }
    }
}

#[test]
fn a_valid_explicit_variant_is_kept() {
    let e = explicit(&variant("v1", 64, 64, 64, 4, 3)).unwrap();
    assert_eq!(e.variants.len(), 1);
    assert_eq!(
        e.variants[0].entry_name(),
        "attn_fwd_v1_d64_bf16_bm64_bn64_w4_s3_causal"
    );
}

#[test]
fn shared_memory_is_judged_per_arch() {
    let big = variant("v1", 128, 128, 128, 8, 3);
    let e = expand(&format!(
        "archs = [\"sm_89\", \"sm_90\"]\n[[variant]]\n{big}"
    ))
    .unwrap();
    assert_eq!(e.variants[0].archs, vec![Arch::Sm90]);
}

#[test]
fn a_family_can_name_its_own_archs() {
    let text = "archs = [\"sm_89\"]\n[[family]]\nkernel = \"v2\"\narchs = [\"sm_90a\"]\n\
                dtypes = [\"bf16\"]\nhead_dims = [128]\ncausal = [false]\nblock_m = [128]\n\
                block_n = [128]\nwarps = [8]\nstages = [2]\n";
    let e = expand(text).unwrap();
    assert_eq!(e.archs, vec![Arch::Sm89, Arch::Sm90a]);
    assert_eq!(e.variants.len(), 1);
    assert_eq!(e.variants[0].archs, vec![Arch::Sm90a]);
    // Without the override v2 fits no arch of the file and is dropped.
    let e = expand(&text.replace("archs = [\"sm_90a\"]\n", "")).unwrap_err();
    assert!(matches!(e, SpecError::Empty(_)), "{e:?}");
}

#[test]
fn malformed_files_are_rejected() {
    assert!(matches!(
        expand("archs = [\"sm_75\"]"),
        Err(SpecError::UnknownArch(_))
    ));
    assert!(matches!(expand("colour = 3"), Err(SpecError::Parse(_))));
    assert!(matches!(
        expand("archs = [\"sm_89\"]"),
        Err(SpecError::Empty(_))
    ));
    let bad_dtype = FAMILY.replace("\"bf16\"", "\"fp8\"");
    assert!(matches!(
        expand(&bad_dtype),
        Err(SpecError::UnknownDType(_))
    ));
}

#[test]
fn the_repository_tiles_toml_expands() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tiles.toml")).unwrap();
    let e = expand(&text).unwrap();
    assert!(
        e.variants
            .iter()
            .any(|v| v.tile.family == tilespec::Family::V0)
    );
    assert!(
        e.variants
            .iter()
            .any(|v| v.tile.family == tilespec::Family::V1)
    );
}
