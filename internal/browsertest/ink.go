package browsertest

import "image"

// InkShare is the share of pixels that differ from the most common colour
// (the background): near 0 for a blank page, which is how a screenshot
// test catches a page whose script failed to draw it.
func InkShare(img image.Image) float64 {
	counts := map[[3]uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			counts[[3]uint32{r >> 8, g >> 8, bl >> 8}]++
		}
	}
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	total := b.Dx() * b.Dy()
	if total == 0 {
		return 0
	}
	return 1 - float64(most)/float64(total)
}
