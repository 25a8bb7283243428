import Foundation
import IrisImaging

/// PP-OCR style reading: a detector marks where text is (a probability map), each region
/// is cut out and a recogniser reads it (CTC over a character list).
struct TextReader: Sendable {
    let detector: any InferenceBackend
    let detectorInput: ModelManifest.Input
    let detectorOutput: String
    let recognizer: any InferenceBackend
    let recognizerManifest: ModelManifest.Recognizer
    /// Characters by class; class 0 is the CTC blank and the class after the last is a space.
    let keys: [String]

    /// Pixels above this probability count as text; regions whose mean is below
    /// `boxThreshold` are dropped (PaddleOCR's published defaults).
    static let pixelThreshold: Float = 0.3
    static let boxThreshold: Float = 0.5
    static let unclipRatio = 1.6
    static let minimumSide = 3
    /// Recognised lines with a lower mean character probability are dropped. 0.5 (the first
    /// choice) let through what photos without text produce: on 108 such photos (scikit-image's,
    /// Debian wallpapers, the evaluation set) 8 readings, all but one under 0.6 and every one
    /// a single letter, digit or symbol ("C" at 0.51 on the cat). Real text read at 0.62–1.0.
    static let minimumConfidence = 0.6
    /// Fewer letters or digits than this is not text worth keeping: single characters were noise
    /// in every case measured (the "8" at 0.86 on a galaxy, the "4" at 0.88 on coins).
    static let minimumCharacters = 2

    /// Whether a recognised line is kept: sure enough, and long enough to be text.
    static func isText(_ text: String, confidence: Double) -> Bool {
        confidence >= minimumConfidence && text.filter { $0.isLetter || $0.isNumber }.count >= minimumCharacters
    }

    func read(_ pixels: ModelPixels) async throws -> [TextLine] {
        let multiple = detectorInput.multiple ?? 32
        let width = max(multiple, (pixels.width + multiple - 1) / multiple * multiple)
        let height = max(multiple, (pixels.height + multiple - 1) / multiple * multiple)
        let preprocessor = Preprocessor(input: detectorInput)
        let sample = preprocessor.values(pixels, width: width, height: height)
        let results = try await detector.infer(
            sample, shape: preprocessor.sampleShape(width: width, height: height), input: detectorInput.name,
            outputs: [detectorOutput])
        guard let map = results[detectorOutput], map.values.count == width * height else {
            throw RuntimeError(
                operation: "reading text", message: "the detector's output is not a \(width)×\(height) map")
        }
        let xScale = Double(pixels.sourceWidth) / Double(pixels.width)
        let yScale = Double(pixels.sourceHeight) / Double(pixels.height)
        var lines: [TextLine] = []
        for region in Self.regions(map.values, width: width, height: height) {
            let crop = pixels.crop(x: region.x, y: region.y, width: region.width, height: region.height)
            guard let (text, confidence) = try await recognize(crop), Self.isText(text, confidence: confidence) else {
                continue
            }
            let box = TextLine.Box(
                x: Int(Double(region.x) * xScale), y: Int(Double(region.y) * yScale),
                width: Int((Double(region.width) * xScale).rounded()),
                height: Int((Double(region.height) * yScale).rounded()))
            lines.append(TextLine(text: text, confidence: confidence, box: box))
        }
        return lines.sorted { ($0.box.y / 10, $0.box.x) < ($1.box.y / 10, $1.box.x) }
    }

    struct Region: Equatable {
        var x, y, width, height: Int
    }

    /// Connected regions of text pixels (8-neighbourhood), as boxes grown by PaddleOCR's
    /// unclip rule (offset = area × ratio / perimeter), clamped to the map.
    static func regions(_ map: [Float], width: Int, height: Int) -> [Region] {
        var seen = [Bool](repeating: false, count: map.count)
        var regions: [Region] = []
        var stack: [Int] = []
        for start in map.indices where map[start] > pixelThreshold && !seen[start] {
            seen[start] = true
            stack.append(start)
            var minX = width
            var minY = height
            var maxX = 0
            var maxY = 0
            var sum: Float = 0
            var count = 0
            while let index = stack.popLast() {
                let x = index % width
                let y = index / width
                minX = min(minX, x)
                maxX = max(maxX, x)
                minY = min(minY, y)
                maxY = max(maxY, y)
                sum += map[index]
                count += 1
                for dy in -1...1 {
                    for dx in -1...1 where dx != 0 || dy != 0 {
                        let nx = x + dx
                        let ny = y + dy
                        guard nx >= 0, ny >= 0, nx < width, ny < height else { continue }
                        let neighbour = ny * width + nx
                        if !seen[neighbour] && map[neighbour] > pixelThreshold {
                            seen[neighbour] = true
                            stack.append(neighbour)
                        }
                    }
                }
            }
            let boxWidth = maxX - minX + 1
            let boxHeight = maxY - minY + 1
            guard min(boxWidth, boxHeight) >= minimumSide, sum / Float(count) >= boxThreshold else { continue }
            let offset = Int(
                (Double(boxWidth * boxHeight) * unclipRatio / Double(2 * (boxWidth + boxHeight))).rounded())
            let x0 = max(0, minX - offset)
            let y0 = max(0, minY - offset)
            let x1 = min(width, maxX + 1 + offset)
            let y1 = min(height, maxY + 1 + offset)
            regions.append(Region(x: x0, y: y0, width: x1 - x0, height: y1 - y0))
        }
        return regions
    }

    /// Reads one cut-out line: resized to the recogniser's height, then greedy CTC decoding.
    func recognize(_ crop: ModelPixels) async throws -> (String, Double)? {
        let height = recognizerManifest.height
        let width = min(
            recognizerManifest.maxWidth,
            max(height / 2, Int((Double(crop.width) * Double(height) / Double(crop.height)).rounded())))
        let line = crop.resized(width: width, height: height)
        var input = detectorInput
        input.mean = recognizerManifest.mean
        input.std = recognizerManifest.std
        input.layout = .nchw
        let preprocessor = Preprocessor(input: input)
        let results = try await recognizer.infer(
            preprocessor.values(line), shape: preprocessor.sampleShape(width: width, height: height),
            input: recognizerManifest.input,
            outputs: [recognizerManifest.output])
        guard let output = results[recognizerManifest.output], output.shape.count == 3 else { return nil }
        return Self.decode(output.values, steps: output.shape[1], classes: output.shape[2], keys: keys)
    }

    /// Greedy CTC: the best class per step, repeats merged, blanks dropped.
    static func decode(_ probabilities: [Float], steps: Int, classes: Int, keys: [String]) -> (String, Double)? {
        var text = ""
        var confidence = 0.0
        var kept = 0
        var previous = 0
        for step in 0..<steps {
            let row = probabilities[step * classes..<(step + 1) * classes]
            var best = row.startIndex
            for index in row.indices where row[index] > row[best] { best = index }
            let classIndex = best - row.startIndex
            defer { previous = classIndex }
            guard classIndex != 0, classIndex != previous else { continue }
            text += classIndex <= keys.count ? keys[classIndex - 1] : " "
            confidence += Double(row[best])
            kept += 1
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : (trimmed, confidence / Double(kept))
    }
}
