import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommandField, commandName, decodeCommandSet, encodeCommandSet } from './command-set.js';
import type { CommandSet } from './command-set.js';
import { DimseProtocolError } from './errors.js';

test('command set - C-ECHO-RQ encodes byte for byte as PS3.7 Annex E lays it out', () => {
  const bytes = encodeCommandSet({ commandField: CommandField.CEchoRq, messageId: 1, affectedSopClassUid: '1.2.840.10008.1.1', hasDataset: false });
  const expected = [
    '00000000' + '04000000' + '38000000', // (0000,0000) UL 56: the bytes that follow
    '00000200' + '12000000' + Buffer.from('1.2.840.10008.1.1\0', 'latin1').toString('hex'), // UI, NUL-padded to even
    '00000001' + '02000000' + '3000', // (0000,0100) Command Field C-ECHO-RQ
    '00001001' + '02000000' + '0100', // (0000,0110) Message ID 1
    '00000008' + '02000000' + '0101', // (0000,0800) no data set
  ].join('');
  assert.equal(bytes.toString('hex'), expected);
});

test('command set - round trips every field the services use', () => {
  const command: CommandSet = {
    commandField: CommandField.CMoveRsp,
    hasDataset: true,
    messageIdBeingRespondedTo: 7,
    affectedSopClassUid: '1.2.840.10008.5.1.4.1.2.2.2',
    status: 0xff00,
    errorComment: 'Odd',
    offendingElement: [0x00100010, 0x0020000d],
    numberOfRemainingSuboperations: 3,
    numberOfCompletedSuboperations: 2,
    numberOfFailedSuboperations: 1,
    numberOfWarningSuboperations: 0,
    moveDestination: 'DEST',
    moveOriginatorApplicationEntityTitle: 'ORIG',
    moveOriginatorMessageId: 9,
    priority: 2,
  };
  assert.deepEqual(decodeCommandSet(encodeCommandSet(command)), command);
});

test('command set - unknown elements are skipped, a missing command field is an error', () => {
  const known = encodeCommandSet({ commandField: CommandField.CEchoRsp, hasDataset: false, status: 0 });
  const unknown = Buffer.from('0000ff0f02000000abcd', 'hex');
  assert.equal(decodeCommandSet(Buffer.concat([known, unknown])).commandField, CommandField.CEchoRsp);
  assert.throws(() => decodeCommandSet(unknown), /Command Field is missing/);
  assert.throws(() => decodeCommandSet(Buffer.from('0800160002000000', 'hex')), (e: unknown) => e instanceof DimseProtocolError && /outside group 0000/.test(e.message));
});

test('command set - names read as the standard spells them', () => {
  assert.equal(commandName(CommandField.CStoreRq), 'C-STORE-RQ');
  assert.equal(commandName(CommandField.NEventReportRsp), 'N-EVENT-REPORT-RSP');
});
