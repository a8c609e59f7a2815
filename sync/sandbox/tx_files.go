package sandbox

import (
	"fmt"
	"time"

	"github.com/seed-a859fada/medterm/sync/protocol"
)

// Files of the platform: what an institution uploads with 9101 (a 3202
// detail) and what the platform produces for it to download with 9102 (a
// 3202 result). Each has a file_qury_no and a download deadline, after
// which it is gone.

// fileLife is how long a file can be downloaded; real answers give
// dld_endtime a day or so ahead.
const fileLife = 24 * time.Hour

// maxUpload bounds an uploaded file; the request body's own limit is
// tighter still.
const maxUpload = 8 << 20

type fileRecord struct {
	No          string    `json:"file_qury_no"`
	Institution string    `json:"institution"`
	Name        string    `json:"filename"`
	Data        []byte    `json:"data"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
}

// 9101: keep an uploaded file under a new file_qury_no.
func uploadFile(c *call, in *protocol.FileUploadInput) (any, error) {
	u := in.FsUploadIn
	switch {
	case len(u.In) == 0:
		return nil, refuse(protocol.CodeBadRequest, "fsUploadIn.in holds no file")
	case len(u.In) > maxUpload:
		return nil, refuse(protocol.CodeBadRequest, "file over %d bytes", maxUpload)
	case u.Filename == "":
		return nil, refuse(protocol.CodeBadRequest, "fsUploadIn.filename is empty")
	case u.FixmedinsCode != c.inst.Code:
		return nil, refuse(protocol.CodeBadRequest, "fsUploadIn.fixmedins_code is not the sender's")
	}
	rec, err := c.storeFile(u.Filename, u.In)
	if err != nil {
		return nil, err
	}
	return protocol.FileUploadOutput{FileQuryNo: rec.No, Filename: rec.Name, FixmedinsCode: c.inst.Code, DldEndtime: protocol.FormatInfTime(rec.Expires)}, nil
}

// 9102: the file itself. The filename is not checked: a public client
// sends "plc" for every file.
func downloadFile(c *call, in *protocol.FileDownloadInput) (any, error) {
	f, err := c.file(in.FsDownloadIn.FileQuryNo)
	if err != nil {
		return nil, err
	}
	return fileAnswer(f.Data), nil
}

// file reads one of the institution's files still available.
func (c *call) file(no string) (*fileRecord, error) {
	var f fileRecord
	found, err := getJSON(c.tx, bucketFiles, []byte(no), &f)
	if err != nil {
		return nil, err
	}
	if !found || f.Institution != c.inst.Code {
		return nil, refuse(protocol.CodeNotFound, "文件查询号 %q: no such file", no)
	}
	if !c.now.Before(f.Expires) {
		return nil, refuse(protocol.CodeBadRequest, "文件已过期: file %s could be downloaded until %s", no, protocol.FormatInfTime(f.Expires))
	}
	return &f, nil
}

// storeFile keeps a file of the institution and returns its record.
func (c *call) storeFile(name string, data []byte) (*fileRecord, error) {
	seq, err := c.tx.Bucket(bucketFiles).NextSequence()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	f := fileRecord{
		No:          fmt.Sprintf("F%s%s%06d", c.inst.Region, c.now.In(protocol.CST).Format("20060102"), seq%1_000_000),
		Institution: c.inst.Code, Name: name, Data: data, Created: c.now, Expires: c.now.Add(fileLife),
	}
	if err := putJSON(c.tx, bucketFiles, []byte(f.No), &f); err != nil {
		return nil, err
	}
	if err := c.tx.Bucket(bucketFileTimes).Put(timeKey(c.now.Unix(), []byte(f.No)), nil); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	if err := pruneIndex(c.tx, bucketFileTimes, bucketFiles, c.now.Add(-2*fileLife).Unix()); err != nil {
		return nil, fmt.Errorf("%w: prune files: %v", ErrState, err)
	}
	return &f, nil
}
