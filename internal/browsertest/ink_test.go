package browsertest

import (
	"image"
	"image/color"
	"testing"
)

// The blank-page measure: a blank page and a page with only its header
// have little ink, a page with content has much more.
func TestInkShare(t *testing.T) {
	const page = 0xf4
	fill := func(img *image.RGBA, r image.Rectangle, c color.RGBA) {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				img.Set(x, y, c)
			}
		}
	}
	header := func(img *image.RGBA) { fill(img, image.Rect(0, 0, 200, 16), color.RGBA{0x1d, 0x24, 0x33, 255}) }
	tests := map[string]struct {
		draw     func(*image.RGBA)
		min, max float64
	}{
		"blank":       {draw: func(*image.RGBA) {}, min: 0, max: 0},
		"header only": {draw: header, min: 0.03, max: 0.05},
		"content": {draw: func(img *image.RGBA) {
			header(img)
			for i := range 8 {
				fill(img, image.Rect(10, 30+45*i, 190, 60+45*i), color.RGBA{255, 255, 255, 255})
			}
		}, min: 0.45, max: 0.47}, // the white boxes are the most common colour now: 1 - 0.54
		"empty image": {draw: nil, min: 0, max: 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			img := image.NewRGBA(image.Rect(0, 0, 200, 400))
			if tt.draw == nil {
				img = image.NewRGBA(image.Rectangle{})
			} else {
				for i := range img.Pix {
					img.Pix[i] = page
				}
				tt.draw(img)
			}
			if ink := InkShare(img); ink < tt.min || ink > tt.max {
				t.Errorf("ink share %.3f, want within [%.2f, %.2f]", ink, tt.min, tt.max)
			}
		})
	}
}
