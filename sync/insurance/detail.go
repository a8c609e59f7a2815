package insurance

import (
	"context"
	"fmt"

	"github.com/seed-a859fada/medterm/agent"
	"github.com/seed-a859fada/medterm/sync/protocol"
)

// ReconcileDetail implements agent.Insurance: the period's lines written
// as the specification's upload file (a ZIP of one tab-separated UTF-8
// TXT) and uploaded with 9101, compared with 3202 under its file_qury_no,
// and the verdict file fetched with 9102 and read. Each step has its own
// msgid; a failure at any step is that step's, and a later call starts
// again from the upload (files are cheap, and a file_qury_no expires).
func (a *Adapter) ReconcileDetail(ctx context.Context, r agent.DetailRequest) ([]agent.DetailResult, error) {
	rows := make([]protocol.StmtRow, len(r.Lines))
	refunds := "0"
	for i, l := range r.Lines {
		flag := "0"
		if l.Refund {
			flag, refunds = "1", "1"
		}
		rows[i] = protocol.StmtRow{SetlID: l.SetlID, MdtrtID: l.MdtrtID, PsnNo: l.PsnNo,
			MedfeeSumamt: l.Total, FundPaySumamt: l.Fund, AcctPay: l.Account, RefdSetlFlag: flag}
	}
	from, to := protocol.FormatDate(r.From), protocol.FormatDate(r.To)
	name := fmt.Sprintf("%s_%s_%s", a.opt.Institution, compact(from), compact(to))
	file, err := protocol.WriteStmtRows(name+".txt", rows)
	if err != nil {
		return nil, fmt.Errorf("3202 file: %w", err)
	}
	up, err := call(ctx, a, protocol.UploadFile, r.Upload, protocol.FileUploadInput{FsUploadIn: protocol.UploadedFile{
		In: file, Filename: name + ".zip", FixmedinsCode: a.opt.Institution,
	}})
	if err != nil {
		return nil, err
	}
	if up.FileQuryNo == "" {
		return nil, unusable("9101", "no file_qury_no")
	}
	cmp, err := call(ctx, a, protocol.ReconcileDetail, r.Compare, protocol.ReconcileDetailInput{Data: protocol.ReconcileDetailQuery{
		SetlOptins: r.ClearingRegion, FileQuryNo: up.FileQuryNo, StmtBegndate: from, StmtEnddate: to,
		MedfeeSumamt: protocol.Amount(r.Total), FundPaySumamt: protocol.Amount(r.Fund), CashPayamt: protocol.Amount(r.Cash),
		FixmedinsSetlCnt: int64(r.Count), ClrType: r.ClearingType, RefdSetlFlag: refunds,
	}})
	if err != nil {
		return nil, err
	}
	fi := cmp.Fileinfo
	if fi.FileQuryNo == "" {
		// No result file is no verdict, never "no differences".
		return nil, unusable("3202", "no fileinfo.file_qury_no: no verdict")
	}
	raw, err := protocol.DownloadFile.EncodeInput(protocol.FileDownloadInput{FsDownloadIn: protocol.FileQuery{
		FileQuryNo: fi.FileQuryNo, Filename: fi.Filename, FixmedinsCode: a.opt.Institution,
	}})
	if err != nil {
		return nil, err
	}
	data, err := a.s.Download(ctx, request(protocol.DownloadFile.Infno, r.Download, raw))
	if err != nil {
		return nil, refusal(protocol.DownloadFile.Infno, err)
	}
	results, err := protocol.ReadStmtResults(data)
	if err != nil {
		return nil, fmt.Errorf("9102: %w: %w", ErrAnswer, err)
	}
	out := make([]agent.DetailResult, len(results))
	for i, res := range results {
		out[i] = agent.DetailResult{
			PsnNo: res.PsnNo, MdtrtID: res.MdtrtID, SetlID: res.SetlID, Msgid: res.Msgid,
			Result: res.StmtRslt, Refund: res.RefdSetlFlag == "1", Memo: res.Memo,
			Total: res.MedfeeSumamt, Fund: res.FundPaySumamt, Account: res.AcctPay,
		}
	}
	return out, nil
}

// compact is a date without its dashes, for file names.
func compact(date string) string {
	out := make([]byte, 0, len(date))
	for i := 0; i < len(date); i++ {
		if date[i] != '-' {
			out = append(out, date[i])
		}
	}
	return string(out)
}
