package devimage

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// elfMachines maps the GOARCHes an image is built for to their ELF machine.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"386":     elf.EM_386,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"riscv64": elf.EM_RISCV,
}

// checkStatic checks that path is an executable the image can run on its empty base: a
// linux ELF program for arch with no dynamic loader (the base has no libc).
func checkStatic(path, arch string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("binary %s does not exist", path)
	case err != nil:
		return fmt.Errorf("binary %s: %w", path, err)
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("binary %s is not an executable file", path)
	}
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("binary %s is not a linux executable (ELF): %w", path, err)
	}
	defer f.Close()
	if want, ok := elfMachines[arch]; !ok || f.Machine != want {
		return fmt.Errorf("binary %s is built for %s, not linux/%s", path, f.Machine, arch)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("binary %s is an ELF %s, not a program", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("binary %s is dynamically linked (it needs a dynamic loader and libc, which the image does not have): build it with CGO_ENABLED=0 (make build does)", path)
		}
	}
	return nil
}
