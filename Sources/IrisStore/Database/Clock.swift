public import Foundation

/// Times as stored: Unix epoch milliseconds.
public enum Clock {
    public static func nowMilliseconds() -> Int64 { milliseconds(Date()) }

    public static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    public static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}
