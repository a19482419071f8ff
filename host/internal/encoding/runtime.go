package encoding

import (
	"context"

	"github.com/netshare/netshare/abi"
	"github.com/netshare/netshare/host/internal/plugin"
)

// Runtime is what the encoding needs from the plugin host: component
// declarations and instances. FromPlugin adapts *plugin.Host; tests can
// drive the same encoders natively through sdk.NewDispatcher.
type Runtime interface {
	// Component resolves an encoder name as the host does and returns the
	// providing module's name and the component's declaration.
	Component(name string) (module string, c abi.Component, err error)
	// Open creates an instance; params are validated by the runtime.
	Open(ctx context.Context, req abi.OpenRequest) (Instance, error)
}

// Instance is one open encoder.
type Instance interface {
	Call(ctx context.Context, op abi.Op, header any, body []byte) ([]byte, []byte, error)
	// Exchange is Call for bulk data without copies: fill writes the
	// request body (size bytes) in place, and read sees the response's
	// header and body where the plugin left them, valid only until read
	// returns (see plugin.Instance.Exchange).
	Exchange(ctx context.Context, op abi.Op, size int, fill func(body []byte), read func(header, body []byte) error) error
	Close(ctx context.Context) error
}

// FromPlugin runs the encoders in the host's Wasm modules.
func FromPlugin(h *plugin.Host) Runtime { return pluginRuntime{h} }

type pluginRuntime struct{ h *plugin.Host }

func (r pluginRuntime) Component(name string) (string, abi.Component, error) {
	m, c, err := r.h.Find(abi.KindEncoder, name)
	if err != nil {
		return "", abi.Component{}, err
	}
	return m.Name(), *c, nil
}

func (r pluginRuntime) Open(ctx context.Context, req abi.OpenRequest) (Instance, error) {
	in, err := r.h.Open(ctx, req)
	if err != nil {
		return nil, err
	}
	return in, nil
}
