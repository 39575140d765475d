#!/usr/bin/env bash
# The hostile and careless inputs of issue #14, run against one checkout of tmemsim, one line
# each: case, exit code, the first error line, wall and CPU time (under a 3 GB address-space
# limit and a timeout, so that the old code's hangs end).
# usage: scripts/bad_input_cases.sh CHECKOUT_DIR   (run with a Python that has tmemsim's
# dependencies; the checkout's tmemsim is put first on PYTHONPATH)
code=$1; w=$(mktemp -d); cd "$w"
export PYTHONPATH=$code
T="python -m tmemsim"
cat > s.yaml <<'Y'
seed: 1
requests: 3000
policies: [none, tmem]
host: {memory: 1GiB, reserved: 128MiB}
disks: {d: {kind: nvme}}
guests:
  - name: g
    memory: 64MiB
    reserved: 16MiB
    disk: {size: 2GiB}
    workload: {kind: zipf, alpha: 0.9, footprint: 100000, read_fraction: 0.9}
Y
row() { local name=$1; shift; local err; err=$(mktemp); local start=$(date +%s.%N)
  ( ulimit -v 3000000; /usr/bin/time -f "%U %S" -o "$err.cpu" timeout ${TMO:-30} "$@" >/dev/null 2>"$err" ); local rc=$?
  local cpu=$(python3 -c "import sys; u,s=open('$err.cpu').read().split()[-2:]; print(f'{float(u)+float(s):.2f}')" 2>/dev/null)
  local el=$(python3 -c "print(f'{$(date +%s.%N)-$start:.1f}')")
  local msg; msg=$(grep -v '^\s*$' "$err" | grep -E 'error|Error|refus' | head -1 | sed "s#$w/##g" | cut -c1-170)
  [ -z "$msg" ] && msg=$(head -1 "$err" | cut -c1-170)
  [ "$rc" = 124 ] && msg="(killed by a ${TMO:-30} s timeout)"
  printf '%s\t%s\t%s\t%s s wall, %s s CPU\n' "$name" "$rc" "$msg" "$el" "$cpu"; }
mkdir precious; echo mine > precious/thesis.tex
TMO=300 row "run --out precious --force (a user's folder)" $T run s.yaml --out precious --force --quiet
echo "  precious/thesis.tex after: $( [ -f precious/thesis.tex ] && echo kept || echo DELETED)"
mkdir sub; cp s.yaml sub/; cd sub
TMO=300 row "run --out . --force" $T run s.yaml --out . --force --quiet
echo "  ./s.yaml after: $( [ -f s.yaml ] && echo kept || echo DELETED)"
cd "$w"
row "run --out /proc/x" $T run s.yaml --out /proc/x --quiet
touch afile; row "run --out afile/res (parent is a file)" $T run s.yaml --out afile/res --quiet
python3 - <<'P'
lines=['x-a: &a [' + ', '.join(['lol']*9) + ']']
for b,n in zip('abcdefghi','bcdefghi'): lines.append(f'x-{n}: &{n} [' + ', '.join(['*'+b]*9) + ']')
open('bomb.yaml','w').write(open('s.yaml').read()+'\n'.join(lines)+'\n')
open('latin1.yaml','wb').write(open('s.yaml').read().replace('name: g','name: g\xe9').encode('latin-1'))
open('binary.yaml','wb').write(bytes(range(256))*8)
open('dup.yaml','w').write('seed: 1\n'+open('s.yaml').read())
open('inf.yaml','w').write(open('s.yaml').read().replace('alpha: 0.9','alpha: .inf'))
open('huge.yaml','w').write(open('s.yaml').read().replace('footprint: 100000','footprint: 64TiB').replace('size: 2GiB','size: 128TiB'))
open('many.yaml','w').write(open('s.yaml').read().replace('    memory: 64MiB','    count: 100000\n    memory: 64MiB').replace('memory: 1GiB','memory: 64TiB'))
P
row "validate billion laughs (9 levels)" $T validate bomb.yaml
row "validate Latin-1 byte" $T validate latin1.yaml
row "validate binary file" $T validate binary.yaml
row "validate duplicate key" $T validate dup.yaml
row "run alpha: .inf" $T run inf.yaml --quiet
row "compare --jobs 0" $T compare s.yaml --jobs 0 --quiet
row "compare --jobs -1" $T compare s.yaml --jobs -1 --quiet
row "verify --only nosuch" $T verify --only nosuch --quiet
mkdir notresults; echo x > notresults/a.txt
row "plot notresults/" $T plot notresults
row "validate footprint 64 TiB" $T validate huge.yaml
row "run footprint 64 TiB" $T run huge.yaml --quiet
row "validate 100,000 guests" $T validate many.yaml
rm -rf "$w"
