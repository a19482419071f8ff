//go:build !amd64 || purego

package sgemm

func init() { active.Store(kernels[len(kernels)-1]) }
