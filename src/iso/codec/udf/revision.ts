/*
 * What a UDF revision fixes in the structures of a volume with one plain (type 1) partition, for the
 * revisions the writer records (write/udf) and so the ones a commit can keep (read/read-only-reasons.ts):
 *
 * - the recognition sequence's NSR descriptor and the partition contents identifier: "NSR02" for the
 *   revisions built on ECMA-167 2nd edition (UDF 1.02, 1.50), "NSR03" from UDF 2.00 on (3rd edition);
 * - the descriptor tag version (ECMA-167 3/7.2.2): 2 in the 2nd edition's revisions, 3 in the 3rd's
 *   (mkudffs records 2 for 1.50 and 3 for 2.00);
 * - the minimum UDF read revision of the integrity descriptor's implementation use (UDF 2.2.6.4): the
 *   revision itself, but for 2.60, whose changes are all on the writing side (pseudo-overwrite), 2.50, so
 *   that a 2.50 reader reads it (Linux fs/udf/udf_sb.h: "UDF 2.6 media should have version <= 0x250").
 *
 * UDF 1.00 and 1.01 are not listed: nothing writes them any more. A UDF 2.50 or 2.60 volume may be
 * recorded without a metadata partition (UDF 2.2.10), in the shape pycdlib gives the volumes it calls 2.60 and
 * NetBSD's newfs_udf -M formats (its manual: leaving the metadata partition out gives up strict
 * conformance); 7-Zip, udfinfo and pycdlib read it (test/write/udf-write.test.ts).
 */

export interface UdfRevisionFacts {
  /** 0x0102 … 0x0260, as domain identifier suffixes record it (UDF 2.1.5.3). */
  value: number
  nsr: 'NSR02' | 'NSR03'
  descriptorVersion: 2 | 3
  minReadRevision: number
}

function facts<V extends number> (value: V): UdfRevisionFacts & { value: V } {
  const ecma3 = value >= 0x0200
  return { value, nsr: ecma3 ? 'NSR03' : 'NSR02', descriptorVersion: ecma3 ? 3 : 2, minReadRevision: Math.min(value, 0x0250) }
}

/** The revisions whose one-partition volume is written, by their usual text. */
export const UDF_REVISION_FACTS = {
  '1.02': facts(0x0102),
  '1.50': facts(0x0150),
  '2.00': facts(0x0200),
  '2.01': facts(0x0201),
  '2.50': facts(0x0250),
  '2.60': facts(0x0260)
} as const

/** The facts of a recorded revision (a domain identifier's), or undefined when it is not written here. */
export function revisionFacts (value: number): WrittenRevisionFacts | undefined {
  return Object.values(UDF_REVISION_FACTS).find(f => f.value === value)
}

export type WrittenRevisionFacts = typeof UDF_REVISION_FACTS[keyof typeof UDF_REVISION_FACTS]
