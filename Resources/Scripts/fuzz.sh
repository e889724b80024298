#!/usr/bin/env bash
# Builds the libFuzzer targets (clang) into ./build-fuzz and runs each one for a while on its
# seed corpus. Usage: fuzz.sh [seconds per target, default 20]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${INBOUND_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${1:-20}

CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DINBOUND_BUILD_FUZZERS=ON -DINBOUND_BUILD_TESTS=OFF -DINBOUND_BUILD_WEBAPP=OFF >/dev/null
targets=${INBOUND_FUZZ_TARGETS:-OpenRequestFuzzer DicomInspectorFuzzer DicomGuardFuzzer ForwardedForFuzzer MailComposeFuzzer PatientIdFuzzer PulledManifestFuzzer SealingFuzzer ClamdReplyFuzzer RequestPushFuzzer StowReaderFuzzer RequestFormFuzzer CandidateScoreFuzzer CoercionFuzzer ReconcileAnswersFuzzer DicomFileFuzzer StagedPiecesFuzzer}
# shellcheck disable=SC2086
cmake --build "$build" -j"${INBOUND_JOBS:-2}" --target $targets

pydicom=/usr/lib/python3/dist-packages/pydicom/data/test_files
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$corpus/OpenRequestFuzzer" "$corpus/DicomInspectorFuzzer" "$corpus/DicomGuardFuzzer" \
  "$corpus/ForwardedForFuzzer" "$corpus/MailComposeFuzzer" "$corpus/PatientIdFuzzer" \
  "$corpus/PulledManifestFuzzer" "$corpus/SealingFuzzer" "$corpus/ClamdReplyFuzzer" \
  "$corpus/RequestPushFuzzer" "$corpus/StowReaderFuzzer" "$corpus/RequestFormFuzzer" \
  "$corpus/CandidateScoreFuzzer"
cp "$root"/UnitTests/Fuzzing/Corpus/OpenRequest/* "$corpus/OpenRequestFuzzer/"
cp "$root"/UnitTests/Fuzzing/Corpus/PulledManifest/* "$corpus/PulledManifestFuzzer/"
# RequestPushFuzzer: pushes (valid, refused records, a duplicate id) and gateways' state answers.
cp "$root"/UnitTests/Fuzzing/Corpus/RequestPush/* "$corpus/RequestPushFuzzer/"
# RequestFormFuzzer: byte 0 picks the parser (0 the admin's form, 1 a challenge answer, 2 two
# patient names split at NUL), the rest is its input.
cp "$root"/UnitTests/Fuzzing/Corpus/RequestForm/* "$corpus/RequestFormFuzzer/"
# StowReaderFuzzer: 4 bytes seeding the chunk sizes, then a STOW-RS body (boundary B0undary):
# two parts, a text part, garbage between parts, an unterminated part, no part; "typed": the first
# line is the request's Content-Type.
cp "$root"/UnitTests/Fuzzing/Corpus/StowReader/* "$corpus/StowReaderFuzzer/"
# ClamdReplyFuzzer: the answers clamd 1.4 gives (clean, found, several found, size limit, errors).
cp "$root"/UnitTests/Fuzzing/Corpus/ClamdReply/* "$corpus/ClamdReplyFuzzer/"
# SealingFuzzer: envelopes for its test key made with IntegrationTests/sealing.py (valid, other
# context, unknown key, header only), a plain DICOM start and a public key.
cp "$root"/UnitTests/Fuzzing/Corpus/Sealing/* "$corpus/SealingFuzzer/"
# PatientIdFuzzer: byte 0 picks the declared character set, byte 1 the ordinal, the rest is
# the PatientID: long, Latin-1, UTF-8, ISO 2022 and backslash seeds.
printf '\x01\x00K\xd6HLER-100' >"$corpus/PatientIdFuzzer/latin1"
printf '\x03\x05K\xc3\x96HLER-100' >"$corpus/PatientIdFuzzer/utf8"
printf '\x08\x01\x1b$B;3ED\x1b(B' >"$corpus/PatientIdFuzzer/iso2022"
printf '\x00\x02A\\B' >"$corpus/PatientIdFuzzer/backslash"
printf '\x00\x00%s' "1.2.826.0.1.3680043.10.511.3.12345678901234567890123" >"$corpus/PatientIdFuzzer/oid"
cp "$root"/UnitTests/Fuzzing/Corpus/ForwardedFor/* "$corpus/ForwardedForFuzzer/"
cp "$root"/UnitTests/Fuzzing/Corpus/MailCompose/* "$corpus/MailComposeFuzzer/"
# CandidateScoreFuzzer: a sent patient and a hospital record as NUL-separated fields (name,
# birth date, sex, IDs, issuers, '\'-separated lists...): near-misses, a worklist entry, accents,
# ideographic groups, invalid UTF-8, over-long names and words.
cp "$root"/UnitTests/Fuzzing/Corpus/CandidateScore/* "$corpus/CandidateScoreFuzzer/"
# ReconcileAnswersFuzzer: byte 0 picks the reader (0 C-FIND patient, 1 worklist, 2 /tools/find,
# 3 stored tags), then Orthanc's JSON: answers, an isolated patient, wrong types.
mkdir -p "$corpus/ReconcileAnswersFuzzer"
cp "$root"/UnitTests/Fuzzing/Corpus/ReconcileAnswers/* "$corpus/ReconcileAnswersFuzzer/"
# Hostile files (nested 30/50/200 deep in each encoding, a deflate bomb, lying lengths, file meta
# groups that DCMTK reads otherwise than a naive reader: made by IntegrationTests/hostile_dicom.py)
# and real ones, for both DICOM targets.
cp "$root"/UnitTests/Fuzzing/Corpus/DicomInspector/* "$corpus/DicomInspectorFuzzer/"
for f in MR_small.dcm CT_small.dcm MR_truncated.dcm rtplan.dcm JPEG2000.dcm MR_small_implicit.dcm \
         MR_small_bigendian.dcm emri_small_jpeg_2k_lossless.dcm image_dfl.dcm; do
  if [[ -f "$pydicom/$f" ]]; then cp "$pydicom/$f" "$corpus/DicomInspectorFuzzer/"; fi
done
# A file whose pixel data is copied as sent, not parsed (explicit VR little endian, Pixel Data
# last): MR_small.dcm without its trailing padding (MR_small_implicit.dcm is one already).
/usr/bin/python3 -c 'import sys, pydicom; d = pydicom.dcmread(sys.argv[1]); del d[0xfffcfffc]; d.save_as(sys.argv[2], write_like_original=False)' \
  "$pydicom/MR_small.dcm" "$corpus/DicomInspectorFuzzer/MR_small_pixel_data_last.dcm"
cp "$corpus/DicomInspectorFuzzer/"* "$corpus/DicomGuardFuzzer/"
# DicomFileFuzzer: the same files, checked and parsed from a file as in memory (both must agree).
mkdir -p "$corpus/DicomFileFuzzer" "$corpus/StagedPiecesFuzzer"
cp "$corpus/DicomInspectorFuzzer/"* "$corpus/DicomFileFuzzer/"
# StagedPiecesFuzzer: 2 bytes of item size (LE), 1 byte plain/sealed staging, the staged file:
# plain files of one or more pieces, sealed pieces (consistent, lying count), one envelope, a
# plain file whose preamble fakes the pieces header.
cp "$root"/UnitTests/Fuzzing/Corpus/StagedPieces/* "$corpus/StagedPiecesFuzzer/"
# CoercionFuzzer: byte 0 picks the release (1 isolate first, 2 a name Latin-1 cannot hold,
# 4 new UIDs, 8 no issuer), then the same files.
mkdir -p "$corpus/CoercionFuzzer"
for f in "$corpus/DicomInspectorFuzzer/"*; do
  for how in 01 03 07 0f; do
    { printf "\x$how"; cat "$f"; } >"$corpus/CoercionFuzzer/$how-$(basename "$f")"
  done
done

for target in $targets; do
  echo "== $target (${seconds}s)"
  if ! ASAN_OPTIONS=detect_leaks=0 "$build/$target" -max_total_time="$seconds" -rss_limit_mb=4096 \
       -max_len=1048576 -print_final_stats=1 "$corpus/$target" >"$corpus/$target.log" 2>&1; then
    tail -n 60 "$corpus/$target.log"
    echo "FAILED: $target found a crash"
    exit 1
  fi
  grep -E "stat::number_of_executed_units" "$corpus/$target.log"
done
