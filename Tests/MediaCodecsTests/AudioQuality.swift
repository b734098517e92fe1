/// Signal-to-noise ratio in dB of `decoded` against `reference` (same length, same layout).
func snr(_ reference: ArraySlice<Int16>, _ decoded: ArraySlice<Int16>) -> Double {
    var signal = 0.0, noise = 0.0
    for (a, b) in zip(reference, decoded) {
        signal += Double(a) * Double(a)
        noise += (Double(a) - Double(b)) * (Double(a) - Double(b))
    }
    return noise == 0 ? .infinity : 10 * log10(signal / noise)
}

func energy(_ x: ArraySlice<Int16>) -> Double { x.reduce(0) { $0 + Double($1) * Double($1) } }

#if canImport(Glibc)
import Glibc
#endif
