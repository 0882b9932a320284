#!/usr/bin/env bash
# The numeric domain on the GPU (issue 19): for one variant of each family,
# `tileattn run` on the GPU and on the emulator from the same inputs at
# negative, tiny and large accepted scales must agree (O within the dtype's
# tolerance, LSE within 1e-3 plus 2^-20 relative); NaN and out-of-range
# inputs and unresolvable scales must be refused with exit 2 before a launch.
. scripts/device/lib.sh
D="$R/domain"
mkdir -p "$D"
python3 - "$D" <<'PY'
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(19)
for name, shape in [("q", (1, 37, 4, 64)), ("k", (1, 50, 2, 64)), ("v", (1, 50, 2, 64))]:
    np.save(f"{d}/{name}.npy", rng.standard_normal(shape).astype(np.float32))
q = np.load(f"{d}/q.npy"); q[0, 3, 1, 5] = np.nan; np.save(f"{d}/q_nan.npy", q)
v = np.load(f"{d}/v.npy"); v[0, 0, 0, 0] = 1e5; np.save(f"{d}/v_big.npy", v)
PY
status=0
for family in v0 v1 v2 v3 v4; do
  variant=$($B variants | awk -v f="attn_fwd_${family}_d64_f16_" 'index($1, f) == 1 && $1 ~ /_noncausal$/ { print $1; exit }')
  for scale in -0.125 -8 1e-30 2e4 -2e4; do
    for where in gpu emu; do
      flag=$([ $where = emu ] && echo --emulate)
      $B run $flag --dtype f16 --variant "$variant" --q "$D/q.npy" --k "$D/k.npy" --v "$D/v.npy" \
        --scale="$scale" --out "$D/o-$where.npy" --lse "$D/lse-$where.npy" 2>> "$R/domain.log"
    done
    python3 - "$D" "$family" "$scale" <<'PY' | tee -a "$R/domain.txt" || status=1
import sys, numpy as np
d, family, scale = sys.argv[1:]
o = [np.load(f"{d}/o-{w}.npy").astype(np.float64) for w in ("gpu", "emu")]
l = [np.load(f"{d}/lse-{w}.npy").astype(np.float64) for w in ("gpu", "emu")]
rel = np.linalg.norm(o[0] - o[1]) / np.linalg.norm(o[1])
lse = np.max(np.abs(l[0] - l[1]) - 2.0**-20 * np.abs(l[1]))
ok = np.isfinite(o[0]).all() and np.isfinite(l[0]).all() and rel <= 2e-3 and lse <= 1e-3
print(f"{family} scale {scale}: GPU vs emulator rel L2 {rel:.2e}, LSE excess {lse:.2e}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
  done
done
# Refusals: exit 2 before any launch.
for args in "--q $D/q_nan.npy --k $D/k.npy --v $D/v.npy" \
            "--q $D/q.npy --k $D/k.npy --v $D/v_big.npy" \
            "--q $D/q.npy --k $D/k.npy --v $D/v.npy --scale=1e8"; do
  $B run $args --dtype f16 --out "$D/refused.npy" 2>> "$R/domain.log"
  code=$?
  echo "refused ($args): exit $code" | tee -a "$R/domain.txt"
  [ $code = 2 ] && [ ! -e "$D/refused.npy" ] || status=1
done
pack
exit $status
