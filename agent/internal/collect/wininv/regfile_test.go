package wininv

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"
)

// utf16File encodes text as regedit writes it: UTF-16LE after a BOM.
func utf16File(text string, bom bool) []byte {
	var b bytes.Buffer
	if bom {
		b.Write([]byte{0xff, 0xfe})
	}
	for _, u := range utf16.Encode([]rune(text)) {
		b.WriteByte(byte(u))
		b.WriteByte(byte(u >> 8))
	}
	return b.Bytes()
}

const sampleReg = "Windows Registry Editor Version 5.00\r\n" +
	"\r\n" +
	"; exported for a test\r\n" +
	"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Vendor\\App]\r\n" +
	"@=\"default value\"\r\n" +
	"\"Path\"=\"C:\\\\Program Files\\\\App\\\\\"\r\n" +
	"\"Quote\"=\"say \\\"hi\\\"\"\r\n" +
	"\"Ümlaut\"=\"Größe\"\r\n" +
	"\"Count\"=dword:0000002a\r\n" +
	"\"Big\"=hex(b):08,07,06,05,04,03,02,01\r\n" +
	"\"Blob\"=hex:de,ad,\\\r\n" +
	"  be,ef\r\n" +
	"\"Expand\"=hex(2):25,00,53,00,79,00,73,00,74,00,65,00,6d,00,44,00,72,00,69,00,\\\r\n" +
	"  76,00,65,00,25,00,00,00\r\n" +
	"\"Multi\"=hex(7):61,00,00,00,62,00,63,00,00,00,00,00\r\n" +
	"\"Empty\"=hex:\r\n" +
	"\r\n" +
	"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Vendor\\App\\Sub Key]\r\n" +
	"\"Name\"=\"x\"\r\n"

func TestParseRegValueTypes(t *testing.T) {
	root, err := ParseReg(utf16File(sampleReg, true))
	if err != nil {
		t.Fatal(err)
	}
	app := root.Lookup(`hkey_local_machine\software\VENDOR\app`)
	if app == nil {
		t.Fatal("key not found by a differently cased path")
	}
	for _, tc := range []struct{ name, want string }{
		{"", "default value"},
		{"Path", `C:\Program Files\App\`},
		{"quote", `say "hi"`},
		{"Ümlaut", "Größe"},
		{"Expand", "%SystemDrive%"},
	} {
		t.Run("string "+tc.name, func(t *testing.T) {
			if got := app.String(tc.name); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("dword", func(t *testing.T) {
		if n, ok := app.Uint("Count"); !ok || n != 42 {
			t.Errorf("got %d %v, want 42", n, ok)
		}
	})
	t.Run("qword", func(t *testing.T) {
		if n, ok := app.Uint("Big"); !ok || n != 0x0102030405060708 {
			t.Errorf("got %#x %v", n, ok)
		}
	})
	t.Run("binary across a continuation line", func(t *testing.T) {
		v, _ := app.Value("Blob")
		if v.Type != RegBinary || !bytes.Equal(v.Data, []byte{0xde, 0xad, 0xbe, 0xef}) {
			t.Errorf("got type %d data % x", v.Type, v.Data)
		}
	})
	t.Run("multi string", func(t *testing.T) {
		if got := app.Strings("Multi"); !slices.Equal(got, []string{"a", "bc"}) {
			t.Errorf("got %q", got)
		}
	})
	t.Run("empty binary", func(t *testing.T) {
		v, ok := app.Value("Empty")
		if !ok || v.Type != RegBinary || len(v.Data) != 0 {
			t.Errorf("got %v %+v", ok, v)
		}
	})
	t.Run("wrong type reads as absent", func(t *testing.T) {
		if got := app.String("Count"); got != "" {
			t.Errorf("String of a dword = %q", got)
		}
		if _, ok := app.Uint("Path"); ok {
			t.Error("Uint of a string reported ok")
		}
	})
	t.Run("subkey", func(t *testing.T) {
		if got := app.Lookup("sub key").String("Name"); got != "x" {
			t.Errorf("got %q", got)
		}
	})
}

func TestParseRegEncodings(t *testing.T) {
	want, err := ParseReg(utf16File(sampleReg, true))
	if err != nil {
		t.Fatal(err)
	}
	lf := strings.ReplaceAll(sampleReg, "\r\n", "\n")
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"utf-16le without bom", utf16File(sampleReg, false)},
		{"utf-8 with bom", append([]byte{0xef, 0xbb, 0xbf}, sampleReg...)},
		{"utf-8 with lf line ends", []byte(lf)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseReg(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if dump(got) != dump(want) {
				t.Errorf("tree differs\n%s", lineDiff(dump(want), dump(got)))
			}
		})
	}
}

func TestParseRegREGEDIT4(t *testing.T) {
	// REGEDIT4 files are in the ANSI code page, text types included.
	data := []byte("REGEDIT4\r\n\r\n[HKEY_CURRENT_USER\\Env]\r\n\"Name\"=\"caf\xe9\"\r\n\"Path\"=hex(2):25,54,45,4d,50,25,00\r\n")
	root, err := ParseReg(data)
	if err != nil {
		t.Fatal(err)
	}
	env := root.Lookup(`HKEY_CURRENT_USER\Env`)
	if got := env.String("Name"); got != "café" {
		t.Errorf("Name = %q", got)
	}
	if got := env.String("Path"); got != "%TEMP%" {
		t.Errorf("Path = %q", got)
	}
}

func TestParseRegDeletions(t *testing.T) {
	text := "Windows Registry Editor Version 5.00\n" +
		"[HKEY_CURRENT_USER\\A\\B]\n\"x\"=\"1\"\n\"y\"=\"2\"\n" +
		"[HKEY_CURRENT_USER\\A\\C]\n" +
		"[-HKEY_CURRENT_USER\\A\\B]\n\"ignored\"=\"3\"\n" +
		"[HKEY_CURRENT_USER\\A\\C]\n\"z\"=\"4\"\n\"z\"=-\n"
	root, err := ParseReg([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if root.Lookup(`HKEY_CURRENT_USER\A\B`) != nil {
		t.Error("deleted key still present")
	}
	c := root.Lookup(`HKEY_CURRENT_USER\A\C`)
	if c == nil {
		t.Fatal("sibling of the deleted key is gone")
	}
	if _, ok := c.Value("z"); ok {
		t.Error("deleted value still present")
	}
	if got := len(root.Lookup(`HKEY_CURRENT_USER\A`).Subkeys()); got != 1 {
		t.Errorf("A has %d subkeys, want 1", got)
	}
}

func TestParseRegErrors(t *testing.T) {
	const h = "Windows Registry Editor Version 5.00\n"
	for _, tc := range []struct{ name, text, where string }{
		{"no header", "[HKEY_CURRENT_USER\\A]\n", "line 1"},
		{"empty", "\n\n", "empty file"},
		{"value before any key", h + "\"x\"=\"1\"\n", "line 2"},
		{"short dword", h + "[HKEY_CURRENT_USER\\A]\n\"x\"=dword:2a\n", "line 3"},
		{"bad hex byte", h + "[HKEY_CURRENT_USER\\A]\n\"x\"=hex:zz\n", "line 3"},
		{"bad hex type", h + "[HKEY_CURRENT_USER\\A]\n\"x\"=hex(q):00\n", "line 3"},
		{"unterminated string", h + "[HKEY_CURRENT_USER\\A]\n\"x\"=\"abc\n", "line 3"},
		{"missing equals", h + "[HKEY_CURRENT_USER\\A]\n\"x\" \"abc\"\n", "line 3"},
		{"unknown data", h + "[HKEY_CURRENT_USER\\A]\n\"x\"=str:abc\n", "line 3"},
		{"unclosed key", h + "[HKEY_CURRENT_USER\\A\n", "line 2"},
		{"text after string", h + "[HKEY_CURRENT_USER\\A]\n\"x\"=\"a\"b\n", "line 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseReg([]byte(tc.text))
			if !errors.Is(err, ErrRegFormat) {
				t.Fatalf("err = %v, want ErrRegFormat", err)
			}
			if !strings.Contains(err.Error(), tc.where) {
				t.Errorf("err %q does not say %q", err, tc.where)
			}
		})
	}
}

func TestFixturesParse(t *testing.T) {
	// Every committed .reg fixture is a UTF-16LE regedit export.
	for _, name := range []string{
		"uninstall-hklm.reg", "uninstall-wow6432.reg", "uninstall-user.reg",
		"appmodel-repository.reg", "appx-alluserstore.reg", "cbs-packages.reg",
		"currentversion-win10.reg", "bios.reg", "profilelist.reg",
	} {
		t.Run(name, func(t *testing.T) {
			if root := loadReg(t, name); len(root.Subkeys()) != 1 {
				t.Errorf("want one hive at the root, got %d", len(root.Subkeys()))
			}
		})
	}
}

func TestNilKey(t *testing.T) {
	var k *Key
	if k.Lookup(`A\B`) != nil || k.Subkeys() != nil || k.String("x") != "" || k.Strings("x") != nil {
		t.Error("nil key is not empty")
	}
	if _, ok := k.Uint("x"); ok {
		t.Error("nil key has a number")
	}
}
