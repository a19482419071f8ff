package abi

import (
	"fmt"
	"math"
	"sort"

	"github.com/netshare/netshare/internal/suggest"
)

// Manifest lists the components a module provides.
type Manifest struct {
	ABI        uint32      `json:"abi"`
	Module     string      `json:"module"`
	Components []Component `json:"components"`
}

// Component is one format, encoder or metric in a module.
type Component struct {
	Kind    Kind    `json:"kind"`
	Name    string  `json:"name"`
	Version string  `json:"version"`
	Summary string  `json:"summary,omitempty"`
	Params  []Param `json:"params,omitempty"`
	// Defaults is free-form data a component offers the pipeline, such as
	// a format's default fields and encoders; its schema is documented by
	// whoever reads it.
	Defaults map[string]any `json:"defaults,omitempty"`
}

// ParamType is the type of a component parameter.
type ParamType string

const (
	ParamInt     ParamType = "int"
	ParamFloat   ParamType = "float"
	ParamString  ParamType = "string"
	ParamBool    ParamType = "bool"
	ParamStrings ParamType = "[]string"
	ParamFloats  ParamType = "[]float"
	ParamInts    ParamType = "[]int"
	ParamTable   ParamType = "table" // a map of strings to strings
)

// Param declares one parameter with its type and default. A nil Default
// marks the parameter as optional with no value.
type Param struct {
	Name     string    `json:"name"`
	Type     ParamType `json:"type"`
	Default  any       `json:"default,omitempty"`
	Required bool      `json:"required,omitempty"`
	Doc      string    `json:"doc,omitempty"`
}

// Find returns the named component of the given kind.
func (m *Manifest) Find(kind Kind, name string) (*Component, bool) {
	for i := range m.Components {
		if m.Components[i].Kind == kind && m.Components[i].Name == name {
			return &m.Components[i], true
		}
	}
	return nil, false
}

// Validate checks a manifest's own consistency.
func (m *Manifest) Validate() error {
	if m.ABI != Version {
		return fmt.Errorf("manifest declares ABI %d, host speaks %d", m.ABI, Version)
	}
	seen := map[string]bool{}
	for _, c := range m.Components {
		switch c.Kind {
		case KindFormat, KindEncoder, KindMetric:
		default:
			return fmt.Errorf("component %q: unknown kind %q", c.Name, c.Kind)
		}
		if c.Name == "" {
			return fmt.Errorf("a %s component has no name", c.Kind)
		}
		key := string(c.Kind) + "/" + c.Name
		if seen[key] {
			return fmt.Errorf("component %s declared twice", key)
		}
		seen[key] = true
		for _, p := range c.Params {
			if p.Default != nil {
				if _, err := CoerceParam(p.Type, p.Default); err != nil {
					return fmt.Errorf("component %s: default of %q: %w", key, p.Name, err)
				}
			}
		}
	}
	return nil
}

// ResolveParams checks params against the component's declarations and
// returns them with defaults filled in and values coerced to canonical Go
// types (int64, float64, string, bool, []string, []float64, []int64,
// map[string]string). Unknown names are errors with a suggestion.
func (c *Component) ResolveParams(params map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(c.Params))
	known := make([]string, 0, len(c.Params))
	for _, p := range c.Params {
		known = append(known, p.Name)
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p, ok := c.param(k)
		if !ok {
			return nil, fmt.Errorf("%s %q has no parameter %q%s", c.Kind, c.Name, k, suggest.DidYouMean(k, known))
		}
		v, err := CoerceParam(p.Type, params[k])
		if err != nil {
			return nil, fmt.Errorf("%s %q parameter %q: %w", c.Kind, c.Name, k, err)
		}
		out[k] = v
	}
	for _, p := range c.Params {
		if _, ok := out[p.Name]; ok {
			continue
		}
		if p.Required {
			return nil, fmt.Errorf("%s %q: parameter %q is required", c.Kind, c.Name, p.Name)
		}
		if p.Default != nil {
			v, err := CoerceParam(p.Type, p.Default)
			if err != nil {
				return nil, fmt.Errorf("%s %q parameter %q default: %w", c.Kind, c.Name, p.Name, err)
			}
			out[p.Name] = v
		}
	}
	return out, nil
}

func (c *Component) param(name string) (Param, bool) {
	for _, p := range c.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// CoerceParam converts a decoded TOML or JSON value to the canonical Go type
// for t. JSON numbers arrive as float64 and TOML integers as int64; both are
// accepted where they fit exactly.
func CoerceParam(t ParamType, v any) (any, error) {
	switch t {
	case ParamInt:
		return toInt(v)
	case ParamFloat:
		return toFloat(v)
	case ParamString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case ParamBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case ParamStrings:
		items, ok := toList(v)
		if !ok {
			break
		}
		out := make([]string, len(items))
		for i, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("item %d: want string, got %s", i, typeName(it))
			}
			out[i] = s
		}
		return out, nil
	case ParamFloats, ParamInts:
		items, ok := toList(v)
		if !ok {
			break
		}
		fs := make([]float64, len(items))
		is := make([]int64, len(items))
		for i, it := range items {
			var err error
			if t == ParamInts {
				is[i], err = toInt(it)
			} else {
				fs[i], err = toFloat(it)
			}
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
		}
		if t == ParamInts {
			return is, nil
		}
		return fs, nil
	case ParamTable:
		switch m := v.(type) {
		case map[string]string:
			return m, nil
		case map[string]any:
			out := make(map[string]string, len(m))
			for k, x := range m {
				s, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("key %q: want string, got %s", k, typeName(x))
				}
				out[k] = s
			}
			return out, nil
		}
	default:
		return nil, fmt.Errorf("unknown parameter type %q", t)
	}
	return nil, fmt.Errorf("want %s, got %s", t, typeName(v))
}

func toList(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case []string:
		out := make([]any, len(l))
		for i := range l {
			out[i] = l[i]
		}
		return out, true
	case []float64:
		out := make([]any, len(l))
		for i := range l {
			out[i] = l[i]
		}
		return out, true
	case []int64:
		out := make([]any, len(l))
		for i := range l {
			out[i] = l[i]
		}
		return out, true
	}
	return nil, false
}

func toInt(v any) (int64, error) {
	switch n := v.(type) {
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), nil
		}
		return 0, fmt.Errorf("want int, got %v", n)
	}
	return 0, fmt.Errorf("want int, got %s", typeName(v))
}

func toFloat(v any) (float64, error) {
	switch n := v.(type) {
	case float64:
		return n, nil
	case int64:
		return float64(n), nil
	case int:
		return float64(n), nil
	}
	return 0, fmt.Errorf("want float, got %s", typeName(v))
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "string"
	case bool:
		return "bool"
	case int, int64, float64:
		return "number"
	case []any, []string, []float64, []int64:
		return "list"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}
