import { describe, expect, it } from 'vitest';
import { parseLabelTable } from './labels-csv.js';

describe('parseLabelTable', () => {
  it('reads identifiers, labels, splits and subgroup columns (quoted fields, BOM, CRLF, blank lines)', () => {
    const text = '\ufeffSOPInstanceUID,label,split,sex,"age band"\r\n1.2.3,1,train,F,"40-49"\r\n\r\n1.2.4,0,,M,"50-59"\r\n1.2.5,2,TEST,F,\r\n';
    const t = parseLabelTable(text, 'labels.csv');
    expect(t.idColumn).toBe('SOPInstanceUID');
    expect(t.subgroupColumns).toEqual(['sex', 'age band']);
    expect(t.rows.get('1.2.3')).toEqual({ label: 1, split: 'train', subgroups: { sex: 'F', 'age band': '40-49' }, line: 2 });
    expect(t.rows.get('1.2.4')).toMatchObject({ label: 0, split: undefined, line: 4 });
    expect(t.rows.get('1.2.5')).toMatchObject({ label: 2, split: 'test', subgroups: { sex: 'F', 'age band': '' } });
  });

  it('prefers the most specific identifier; the others are not subgroups', () => {
    const t = parseLabelTable('StudyInstanceUID,path,label,site\n1.2,./a\\b.dcm,1,x\n', 'l.csv');
    expect(t.idColumn).toBe('path');
    expect([...t.rows.keys()]).toEqual(['a/b.dcm']);
    expect(t.subgroupColumns).toEqual(['site']);
    expect(parseLabelTable('studyinstanceuid,LABEL\n1.2,0\n', 'l.csv').idColumn).toBe('StudyInstanceUID');
  });

  it.each([
    ['', /labels l\.csv: is empty; the first row must name the columns/],
    ['name,label\na,1\n', /has no identifier column; name one SOPInstanceUID, path or StudyInstanceUID/],
    ['path,class\na,1\n', /has no 'label' column/],
    ['path,label\n', /has a header but no rows/],
    ['path,label\na,1\nb,x\n', /line 3: label 'x' is not a class number/],
    ['path,label\na,-1\n', /line 2: label '-1' is not a class number/],
    ['path,label\na,1\na,0\n', /line 3: path a already appears on line 2; give each one label/],
    ['path,label\n,1\n', /line 2: the path is blank/],
    ['path,label,split\na,1,holdout\n', /line 2: split 'holdout' is not train, val, test or blank/],
    ['path,label\na,1,extra\n', /not valid CSV|line 2: has 3 fields but the header has 2/],
    ['path,label,Label\na,1,1\n', /names a column twice/],
    ['path,label\n"a,1\n', /is not valid CSV/],
  ])('refuses %j naming the file, the line and the fix', (text, message) => {
    expect(() => parseLabelTable(text, 'l.csv')).toThrow(message);
  });
});
