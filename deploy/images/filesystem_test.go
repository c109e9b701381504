package images

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"io"
	"os/exec"
	"path"
	"slices"
	"testing"
)

// shells are the names of programs that would give whoever execs into a
// container a shell: the shells themselves and the multi-call binaries that
// carry one.
var shells = []string{"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox", "toybox"}

// file is one entry of an image's filesystem; data is read for regular
// files only.
type file struct {
	hdr  *tar.Header
	data []byte
}

// exportFilesystem lists the image's filesystem as a container of it sees
// it, keyed by absolute path: it creates a container (not started) and
// reads `podman export`.
func exportFilesystem(t *testing.T, ref string) map[string]file {
	t.Helper()
	id := string(bytes.TrimSpace(podman(t, "create", ref)))
	t.Cleanup(func() { podman(t, "rm", "--force", id) })

	cmd := exec.Command("podman", "export", id)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("podman export: %v", err)
	}
	files := make(map[string]file)
	tr := tar.NewReader(out)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("podman export: reading the tar stream: %v", err)
		}
		f := file{hdr: hdr}
		if hdr.Typeflag == tar.TypeReg {
			if f.data, err = io.ReadAll(tr); err != nil {
				t.Fatalf("podman export: reading %s: %v", hdr.Name, err)
			}
		}
		files[path.Clean("/"+hdr.Name)] = f
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("podman export: %v\n%s", err, stderr.Bytes())
	}
	return files
}

// checkFilesystem checks the image holds what a scratch image of a Go
// service should: the static service binary as its only program, owned by
// root so that the service cannot rewrite it, and the host's CA bundle.
func checkFilesystem(t *testing.T, files map[string]file, service, entrypoint string, hostCA []byte) {
	t.Helper()
	var programs []string
	for name, f := range files {
		if slices.Contains(shells, path.Base(name)) {
			t.Errorf("the image has a shell: %s", name)
		}
		isExec := f.hdr.Typeflag == tar.TypeReg && f.hdr.Mode&0o111 != 0
		if isExec || f.hdr.Typeflag == tar.TypeSymlink || f.hdr.Typeflag == tar.TypeLink {
			programs = append(programs, name)
		}
	}
	slices.Sort(programs)
	if !slices.Equal(programs, []string{entrypoint}) {
		t.Errorf("the image's executables and links are %q, want only the service binary %s", programs, entrypoint)
	}

	bin, ok := files[entrypoint]
	if !ok {
		t.Fatalf("the image has no %s, its entrypoint", entrypoint)
	}
	if bin.hdr.Uid != 0 || bin.hdr.Mode&0o022 != 0 {
		t.Errorf("%s is owned by uid %d with mode %s; want it owned by root and writable by root only, so that the service cannot replace it", entrypoint, bin.hdr.Uid, bin.hdr.FileInfo().Mode())
	}
	checkStaticBinary(t, entrypoint, bin.data, "github.com/travluk/ecom/services/"+service)

	ca, ok := files[hostCABundle]
	switch {
	case !ok:
		t.Errorf("the image has no CA bundle at %s: TLS to managed databases would fail", hostCABundle)
	case !bytes.Equal(ca.data, hostCA):
		t.Errorf("the image's %s differs from the host's", hostCABundle)
	case !x509.NewCertPool().AppendCertsFromPEM(ca.data):
		t.Errorf("the image's %s holds no certificate", hostCABundle)
	}
}

// checkStaticBinary checks the binary is the service's main package built
// as build.sh promises: without cgo, so that it needs no C library and no
// dynamic loader, which a scratch image does not have.
func checkStaticBinary(t *testing.T, name string, data []byte, mainPackage string) {
	t.Helper()
	exe, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s is not an ELF executable: %v", name, err)
	}
	for _, p := range exe.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (it asks for a program interpreter): it cannot start on a scratch image", name)
		}
	}
	if libs, err := exe.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("%s needs shared libraries %q (%v): it cannot start on a scratch image", name, libs, err)
	}
	info, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s carries no Go build information: %v", name, err)
	}
	if info.Path != mainPackage {
		t.Errorf("%s is built from %s, want %s", name, info.Path, mainPackage)
	}
	settings := make(map[string]string)
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for key, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux"} {
		if settings[key] != want {
			t.Errorf("%s is built with %s=%q, want %q", name, key, settings[key], want)
		}
	}
}
