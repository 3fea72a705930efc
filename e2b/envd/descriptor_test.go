package envd

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	filesystempb "github.com/warrenhq/warren/proto/e2b/filesystem"
	processpb "github.com/warrenhq/warren/proto/e2b/process"
)

// TestDescriptorsMatchSDK compares our compiled envd descriptors with the
// ones embedded in the e2b SDK 2.51.0 (testdata/*.desc.b64, copied from
// dist/index.js: file_process_process and file_filesystem_filesystem):
// every message, field (name, number, label, type, type name, oneof,
// proto3 optional), enum value, service method and streaming flag.
func TestDescriptorsMatchSDK(t *testing.T) {
	for _, tc := range []struct {
		file string
		ours protoreflect.FileDescriptor
	}{
		{"testdata/process.desc.b64", processpb.File_process_process_proto},
		{"testdata/filesystem.desc.b64", filesystempb.File_filesystem_filesystem_proto},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(string(raw)), "="))
			if err != nil {
				t.Fatal(err)
			}
			var sdk descriptorpb.FileDescriptorProto
			if err := proto.Unmarshal(b, &sdk); err != nil {
				t.Fatal(err)
			}
			ours := protodesc.ToFileDescriptorProto(tc.ours)
			want, got := describe(&sdk), describe(ours)
			if len(want) < 20 {
				t.Fatalf("the SDK descriptor describes only %d items", len(want))
			}
			for k, w := range want {
				if g, ok := got[k]; !ok {
					t.Errorf("missing %s (SDK: %s)", k, w)
				} else if g != w {
					t.Errorf("%s: ours %s, SDK %s", k, g, w)
				}
			}
			for k, g := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("extra %s (%s), not in the SDK", k, g)
				}
			}
		})
	}
}

// describe flattens a file descriptor into "kind name" → facts.
func describe(f *descriptorpb.FileDescriptorProto) map[string]string {
	out := map[string]string{"file": f.GetName() + " package " + f.GetPackage() + " " + f.GetSyntax()}
	var msg func(prefix string, m *descriptorpb.DescriptorProto)
	msg = func(prefix string, m *descriptorpb.DescriptorProto) {
		name := prefix + m.GetName()
		var oneofs []string
		for _, o := range m.GetOneofDecl() {
			oneofs = append(oneofs, o.GetName())
		}
		out["message "+name] = fmt.Sprintf("oneofs %v map %v", oneofs, m.GetOptions().GetMapEntry())
		for _, fd := range m.GetField() {
			oneof := "-"
			if fd.OneofIndex != nil {
				oneof = oneofs[fd.GetOneofIndex()]
			}
			out["field "+name+"."+fd.GetName()] = fmt.Sprintf("#%d %s %s %s oneof %s optional %v",
				fd.GetNumber(), fd.GetLabel(), fd.GetType(), fd.GetTypeName(), oneof, fd.GetProto3Optional())
		}
		for _, n := range m.GetNestedType() {
			msg(name+".", n)
		}
		for _, e := range m.GetEnumType() {
			enum(out, name+"."+e.GetName(), e)
		}
	}
	for _, m := range f.GetMessageType() {
		msg("", m)
	}
	for _, e := range f.GetEnumType() {
		enum(out, e.GetName(), e)
	}
	for _, s := range f.GetService() {
		out["service "+s.GetName()] = fmt.Sprintf("%d methods", len(s.GetMethod()))
		for _, m := range s.GetMethod() {
			out["method "+s.GetName()+"."+m.GetName()] = fmt.Sprintf("%s -> %s client_streaming %v server_streaming %v",
				m.GetInputType(), m.GetOutputType(), m.GetClientStreaming(), m.GetServerStreaming())
		}
	}
	return out
}

func enum(out map[string]string, name string, e *descriptorpb.EnumDescriptorProto) {
	out["enum "+name] = fmt.Sprintf("%d values", len(e.GetValue()))
	for _, v := range e.GetValue() {
		out["enum value "+name+"."+v.GetName()] = fmt.Sprint(v.GetNumber())
	}
}

// TestDescriptorDriftIsCaught: the comparison notices a changed field
// number, type or streaming flag (so a passing TestDescriptorsMatchSDK
// means something).
func TestDescriptorDriftIsCaught(t *testing.T) {
	base := describe(protodesc.ToFileDescriptorProto(processpb.File_process_process_proto))
	for name, mutate := range map[string]func(*descriptorpb.FileDescriptorProto){
		"field number": func(f *descriptorpb.FileDescriptorProto) { f.MessageType[0].Field[0].Number = proto.Int32(7) },
		"field type": func(f *descriptorpb.FileDescriptorProto) {
			f.MessageType[0].Field[0].Type = descriptorpb.FieldDescriptorProto_TYPE_BYTES.Enum()
		},
		"streaming":  func(f *descriptorpb.FileDescriptorProto) { f.Service[0].Method[0].ServerStreaming = proto.Bool(true) },
		"enum value": func(f *descriptorpb.FileDescriptorProto) { f.EnumType[0].Value[1].Number = proto.Int32(14) },
	} {
		f := protodesc.ToFileDescriptorProto(processpb.File_process_process_proto)
		mutate(f)
		changed := describe(f)
		same := len(changed) == len(base)
		for k, v := range base {
			same = same && changed[k] == v
		}
		if same {
			t.Errorf("%s: the mutation went unnoticed", name)
		}
	}
}
