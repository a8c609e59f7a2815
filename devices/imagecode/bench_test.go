package imagecode

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// frameSizes are a kiosk camera's: where the code sits and how big its
// modules are is a phone held at a comfortable distance.
var frameSizes = []struct{ w, h, module, x, y int }{
	{640, 480, 3, 300, 150},
	{1280, 720, 5, 620, 130},
}

// BenchmarkDecodeFile decodes camera-sized PNG files, with a code and
// without, and compares with Debian's zbarimg (QR only, as we are) on the
// same files in the same run. ns/op is one Decode of the file: PNG decode,
// luminance and the passes. Metrics:
//
//   - x_zbar_image: our time over zbarimg's per image, start-up excluded:
//     (one run over zbarCopies copies − one run over one copy) /
//     (zbarCopies − 1);
//   - x_zbar_process: our time over one zbarimg run on the file, start-up
//     included, which is what shelling out per frame would cost.
func BenchmarkDecodeFile(b *testing.B) {
	for _, size := range frameSizes {
		files := map[string][]byte{
			"code": encodePNG(b, frame(qrImage(b, opaqueCode, size.module), size.w, size.h, size.x, size.y, 2)),
			"none": encodePNG(b, background(size.w, size.h, 2)),
		}
		for _, kind := range []string{"code", "none"} {
			want := map[string]string{"code": opaqueCode}[kind]
			b.Run(fmt.Sprintf("%dx%d/%s", size.w, size.h, kind), func(b *testing.B) {
				d := decoder(b)
				zbar := zbarimgTimes(b, files[kind], want)
				for b.Loop() {
					got, err := d.Decode(bytes.NewReader(files[kind]))
					if want == "" && !errors.Is(err, ErrNoCode) || want != "" && got != want {
						b.Fatalf("Decode = %q, %v", got, err)
					}
				}
				per := float64(b.Elapsed()) / float64(b.N)
				b.ReportMetric(per/float64(zbar.image), "x_zbar_image")
				b.ReportMetric(per/float64(zbar.process), "x_zbar_process")
			})
		}
	}
}

// BenchmarkDecodeImage decodes frames already in memory (a kiosk camera's
// path). ns/op is a frame without a code; measured in the same loop, as
// baselines for how cheap ErrNoCode is:
//
//   - x_code_frame: over a frame of the same size with a code;
//   - x_naive: over gozxing used plainly on the frame without a code
//     (image.At luminance, full size, try-harder), what a decoder without
//     the quick pass would spend on every empty frame.
func BenchmarkDecodeImage(b *testing.B) {
	for _, size := range frameSizes {
		code := frame(qrImage(b, opaqueCode, size.module), size.w, size.h, size.x, size.y, 2)
		none := background(size.w, size.h, 2)
		b.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(b *testing.B) {
			d := decoder(b)
			var empty, full, naive time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := d.DecodeImage(none); !errors.Is(err, ErrNoCode) {
					b.Fatalf("frame without a code: %v", err)
				}
				empty += time.Since(start)
				b.StopTimer()
				start = time.Now()
				if got, err := d.DecodeImage(code); got != opaqueCode {
					b.Fatalf("frame with a code: %q, %v", got, err)
				}
				full += time.Since(start)
				start = time.Now()
				if _, err := naiveDecode(none); err == nil {
					b.Fatal("naive decode found a code in a frame without one")
				}
				naive += time.Since(start)
				b.StartTimer()
			}
			b.ReportMetric(float64(empty)/float64(full), "x_code_frame")
			b.ReportMetric(float64(empty)/float64(naive), "x_naive")
		})
	}
}

func naiveDecode(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// zbarCopies is how many copies of a frame one zbarimg run reads, to
// separate its start-up from its per-image cost.
const zbarCopies = 16

type zbarTime struct{ image, process time.Duration }

var zbarCache sync.Map // file digest → zbarTime: the benchmark body runs several times

// zbarimgTimes measures zbarimg on file: one process over one copy, and
// the per-image cost from one process over zbarCopies copies. Each is the
// best of two runs, as the machine is shared.
func zbarimgTimes(b *testing.B, file []byte, want string) zbarTime {
	b.Helper()
	key := sha256.Sum256(file)
	if t, ok := zbarCache.Load(key); ok {
		return t.(zbarTime)
	}
	bin, err := exec.LookPath("zbarimg")
	if err != nil {
		b.Fatalf("zbarimg not found: %s", setupHint)
	}
	dir := b.TempDir()
	paths := make([]string, zbarCopies)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("frame%02d.png", i))
		if err := os.WriteFile(paths[i], file, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	run := func(files []string) time.Duration {
		best := time.Duration(1<<63 - 1)
		for range 2 {
			args := append([]string{"-q", "--nodbus", "--raw", "-Sdisable", "-Sqrcode.enable"}, files...)
			start := time.Now()
			out, err := exec.Command(bin, args...).Output()
			best = min(best, time.Since(start))
			var exit *exec.ExitError
			switch {
			case want == "" && errors.As(err, &exit) && exit.ExitCode() == 4: // 4: nothing found, as it should be
			case err != nil:
				b.Fatalf("zbarimg: %v", err)
			case want == "":
				b.Fatalf("zbarimg found %q in a frame without a code", out)
			case strings.Count(string(out), want+"\n") != len(files):
				b.Fatalf("zbarimg read %q, want %d × %q", out, len(files), want)
			}
		}
		return best
	}
	one := run(paths[:1])
	all := run(paths)
	t := zbarTime{image: max((all-one)/(zbarCopies-1), time.Microsecond), process: one}
	zbarCache.Store(key, t)
	return t
}
