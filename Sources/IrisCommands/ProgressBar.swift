import Foundation
import IrisServices

#if canImport(Glibc)
    import Glibc
#endif

/// A one-line progress bar on standard error, `[=====>    ] 120/500` and what the command
/// adds: redrawn in place on a terminal at most every 0.1 s, and a line every 5 s otherwise
/// (a log is not flooded).
final class ProgressBar: @unchecked Sendable {
    private let start = Date()
    private let lock = NSLock()
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastDraw = Date.distantPast

    /// Draws `done` of `total`, followed by `detail(seconds since the start)`.
    func draw(done: Int, total: Int, _ detail: (Double) -> String) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard done == total || now.timeIntervalSince(lastDraw) > (interactive ? 0.1 : 5) else { return }
        lastDraw = now
        let width = 30
        let filled = total == 0 ? width : width * min(done, total) / total
        let bar =
            String(repeating: "=", count: filled)
            + (filled < width ? ">" + String(repeating: " ", count: width - filled - 1) : "")
        let line = "[\(bar)] \(done)/\(total)" + detail(max(now.timeIntervalSince(start), 0.001))
        FileHandle.standardError.write(Data(((interactive ? "\r" : "") + line + (interactive ? "" : "\n")).utf8))
    }

    /// For imports: `  24.1 files/s  (3 new, 1 duplicate, 0 skipped)`.
    func update(done: Int, total: Int, report: ImportReport) {
        draw(done: done, total: total) { seconds in
            String(
                format: "  %.1f files/s  (%d new, %d duplicate, %d skipped)", Double(done) / seconds, report.imported,
                report.duplicates, report.skipped.count)
        }
    }

    /// For copies: ` files  310.2/900.0 MB  24.1 MB/s`.
    func copied(files done: Int, of total: Int, bytes seen: Int64, of bytes: Int64) {
        draw(done: done, total: total) { seconds in
            String(
                format: " files  %.1f/%.1f MB  %.1f MB/s", Double(seen) / 1e6, Double(bytes) / 1e6,
                Double(seen) / 1e6 / seconds)
        }
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
