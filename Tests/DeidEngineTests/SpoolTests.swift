import DeidCSV
import Synchronization
import Testing

@testable import DeidEngine

/// The engine's ordered output and the spool's frame codec.
@Suite struct SpoolTests {
    /// Pass 2 writes through a background writer: chunks arrive in order; after a failed
    /// delivery nothing more is delivered and finish throws the failure.
    @Test func orderedWriterKeepsOrderAndReportsTheFirstFailure() throws {
        struct Full: Error {}
        let delivered = Mutex<[UInt8]>([])
        let writer = OrderedWriter { bytes in delivered.withLock { $0.append(contentsOf: bytes.array) } }
        for value in 0..<200 { try writer.submit(OwnedBytes(copying: [UInt8(value)])) }
        try writer.finish()
        #expect(delivered.withLock { $0 } == (0..<200).map(UInt8.init))

        let failing = OrderedWriter { bytes in
            if bytes.array == [3] { throw Full() }
            delivered.withLock { $0.append(contentsOf: bytes.array) }
        }
        delivered.withLock { $0 = [] }
        // A submit after the failure has been seen throws it (when that is depends on timing).
        do { for value in 0..<100 { try failing.submit(OwnedBytes(copying: [UInt8(value)])) } } catch is Full {}
        #expect(throws: Full.self) { try failing.finish() }
        #expect(delivered.withLock { $0 } == [0, 1, 2])
    }

    /// Recoding a block's frames changes the tuple and entity of full frames only, and steps
    /// over repeat frames and every frame's line.
    @Test func recodingRewritesFullFramesOnly() {
        func numbers(_ values: [UInt32]) -> [UInt8] {
            values.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }
        }
        let width = 2
        let measured = 1
        let full = SpoolFrame.fullHeader(width: width, measured: measured)
        let repeated = SpoolFrame.repeatHeader(measured: measured)
        #expect(full == 12 + 8 + 8 && repeated == 12 + 8)
        // A full frame (tuple 1, entity 0, a line of 5 bytes), a repeat frame (prefix 2, rest 3),
        // a full frame without an entity (tuple 0, a line of 4 bytes).
        var bytes = numbers([1, 0, 5, 0, 2, 0, 5]) + Array("a,b,c".utf8)
        bytes += numbers([SpoolFrame.repeatMarker, 2, 3, 0, 3]) + Array(",c2".utf8)
        bytes += numbers([0, UInt32.max, 4, 1, 2, 2, 4]) + Array("x,yz".utf8)
        let frames = OwnedBytes(copying: bytes)
        SpoolFrame.recode(frames, tuples: [70, 71], entities: [90], fullHeader: full, repeatHeader: repeated)
        var expected = numbers([71, 90, 5, 0, 2, 0, 5]) + Array("a,b,c".utf8)
        expected += numbers([SpoolFrame.repeatMarker, 2, 3, 0, 3]) + Array(",c2".utf8)
        expected += numbers([70, UInt32.max, 4, 1, 2, 2, 4]) + Array("x,yz".utf8)
        #expect(frames.array == expected)
    }
}
