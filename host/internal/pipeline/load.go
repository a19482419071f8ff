package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/netshare/netshare/internal/suggest"
)

// LoadFile reads a pipeline file and applies overrides ("key=value" with
// dotted keys, as --set gives them).
func LoadFile(path string, overrides []string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dir := "."
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		dir = path[:i]
	}
	return Parse(path, dir, b, overrides)
}

// Parse reads a pipeline from TOML text. name labels errors; dir resolves
// relative paths.
func Parse(name, dir string, text []byte, overrides []string) (*Config, error) {
	var err error
	if len(overrides) > 0 {
		if text, err = applyOverrides(name, text, overrides); err != nil {
			return nil, err
		}
	}
	cfg := Default()
	md, err := toml.NewDecoder(bytes.NewReader(text)).Decode(&cfg)
	if err != nil {
		return nil, describeDecodeError(name, err)
	}
	for _, k := range md.Undecoded() {
		// Keys inside a params table belong to the component, which
		// checks them; the decoder leaves nested tables there unmarked.
		if !slices.Contains(k[:len(k)-1], "params") {
			return nil, unknownKey(name, text, k)
		}
	}
	cfg.Source, cfg.Dir, cfg.Text = name, dir, string(text)
	if err := cfg.check(name, text); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func describeDecodeError(name string, err error) error {
	var pe toml.ParseError
	if pp := (*toml.ParseError)(nil); errors.As(err, &pp) {
		pe = *pp
	}
	if errors.As(err, &pe) || pe.Message != "" {
		msg := pe.Message
		if pe.LastKey != "" {
			return fmt.Errorf("%s:%d: key %s: %s", name, pe.Position.Line, pe.LastKey, msg)
		}
		return fmt.Errorf("%s:%d: %s", name, pe.Position.Line, msg)
	}
	// Type mismatches arrive as plain errors in the library's own words.
	if m := typeErrRE.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: key %s: %s", name, m[1], m[2], m[3])
	}
	return fmt.Errorf("%s: %w", name, err)
}

var typeErrRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]+)"\): (.*)$`)

// unknownKey reports a key no section knows, with its line and the
// closest known key.
func unknownKey(name string, text []byte, key toml.Key) error {
	parent, last := key[:len(key)-1], key[len(key)-1]
	known := knownKeys(reflect.TypeOf(Config{}), parent)
	line := findKeyLine(text, parent, last)
	where := name
	if line > 0 {
		where = fmt.Sprintf("%s:%d", name, line)
	}
	section := "top level"
	if len(parent) > 0 {
		section = "[" + parent.String() + "]"
	}
	return fmt.Errorf("%s: unknown key %q in %s%s", where, last, section, suggest.DidYouMean(last, known))
}

// knownKeys lists the TOML keys of the struct reached by path.
func knownKeys(t reflect.Type, path toml.Key) []string {
	for _, p := range path {
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByTag(t, p)
		if !ok {
			return nil
		}
		t = f.Type
	}
	for t.Kind() == reflect.Slice || t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	collectTags(t, &out)
	return out
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			if g, ok := fieldByTag(f.Type, tag); ok {
				return g, true
			}
			continue
		}
		if strings.Split(f.Tag.Get("toml"), ",")[0] == tag {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func collectTags(t reflect.Type, out *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			collectTags(f.Type, out)
			continue
		}
		if tag := strings.Split(f.Tag.Get("toml"), ",")[0]; tag != "" && tag != "-" {
			*out = append(*out, tag)
		}
	}
}

var headerRE = regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?`)

// findKeyLine finds the line where key is set inside the table at parent
// (the first occurrence: enough to point a user at the right place).
func findKeyLine(text []byte, parent toml.Key, key string) int {
	table := parent.String()
	cur := ""
	keyRE := regexp.MustCompile(`^\s*(` + regexp.QuoteMeta(key) + `|"` + regexp.QuoteMeta(key) + `")\s*=`)
	dotted := regexp.MustCompile(`^\s*` + regexp.QuoteMeta(table+"."+key) + `\s*=`)
	for i, l := range strings.Split(string(text), "\n") {
		if m := headerRE.FindStringSubmatch(l); m != nil {
			cur = strings.ReplaceAll(m[1], " ", "")
			if cur == joinKey(table, key) {
				return i + 1
			}
			continue
		}
		if cur == table && keyRE.MatchString(l) {
			return i + 1
		}
		if cur == "" && table != "" && dotted.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

// applyOverrides sets dotted keys in the TOML text. The value is read as a
// TOML value when it parses as one (numbers, booleans, arrays, quoted
// strings) and as a bare string otherwise.
func applyOverrides(name string, text []byte, overrides []string) ([]byte, error) {
	var doc map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(text)).Decode(&doc); err != nil {
		return nil, describeDecodeError(name, err)
	}
	for _, o := range overrides {
		k, v, ok := strings.Cut(o, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want key=value", o)
		}
		var val any
		var probe map[string]any
		if _, err := toml.Decode("v = "+v, &probe); err == nil {
			val = probe["v"]
		} else {
			val = v
		}
		path := strings.Split(k, ".")
		m := doc
		for i, p := range path[:len(path)-1] {
			next, ok := m[p]
			if !ok {
				nm := map[string]any{}
				m[p], m = nm, nm
				continue
			}
			nm, ok := next.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("--set %s: %s is not a table", k, strings.Join(path[:i+1], "."))
			}
			m = nm
		}
		m[path[len(path)-1]] = val
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(doc); err != nil {
		return nil, fmt.Errorf("--set: %w", err)
	}
	return buf.Bytes(), nil
}
