// Copyright 2018 Google LLC. All Rights Reserved.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

// This file replaces expr/queue.go of github.com/google/nftables v0.3.0 when
// e2e/build-tools.sh builds kube-network-policies (with_patched_nftables). The e2e
// machine's kernel has no nft_queue (CONFIG_NFT_QUEUE is not set), so the
// "queue" expression kube-network-policies puts in its rules fails with ENOENT
// and no policy is enforced. The kernel does have nft_compat and the xtables
// NFQUEUE target, so a Queue is sent as that target instead (what iptables-nft
// sends for -j NFQUEUE): the same nf_queue, queue number and bypass flag.
// Only marshal and marshalData differ from upstream; the API is unchanged.

package expr

import (
	"encoding/binary"

	"github.com/google/nftables/binaryutil"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

type QueueAttribute uint16

type QueueFlag uint16

// Possible QueueAttribute values
const (
	QueueNum   QueueAttribute = unix.NFTA_QUEUE_NUM
	QueueTotal QueueAttribute = unix.NFTA_QUEUE_TOTAL
	QueueFlags QueueAttribute = unix.NFTA_QUEUE_FLAGS

	QueueFlagBypass QueueFlag = unix.NFT_QUEUE_FLAG_BYPASS
	QueueFlagFanout QueueFlag = unix.NFT_QUEUE_FLAG_CPU_FANOUT
	QueueFlagMask   QueueFlag = unix.NFT_QUEUE_FLAG_MASK
)

type Queue struct {
	Num   uint16
	Total uint16
	Flag  QueueFlag
}

func (e *Queue) marshal(fam byte) ([]byte, error) {
	data, err := e.marshalData(fam)
	if err != nil {
		return nil, err
	}
	return netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_EXPR_NAME, Data: []byte("target\x00")},
		{Type: unix.NLA_F_NESTED | unix.NFTA_EXPR_DATA, Data: data},
	})
}

// marshalData encodes the xtables target NFQUEUE, revision 3: its info is
// struct xt_NFQ_info_v3 { __u16 queuenum, queues_total, flags; } in host byte
// order, padded to 8 bytes (XT_ALIGN). NFQ_FLAG_BYPASS and NFQ_FLAG_CPU_FANOUT
// have the values of NFT_QUEUE_FLAG_BYPASS and NFT_QUEUE_FLAG_CPU_FANOUT.
func (e *Queue) marshalData(fam byte) ([]byte, error) {
	if e.Total == 0 {
		e.Total = 1 // The total default value is 1
	}
	info := make([]byte, 8)
	binary.NativeEndian.PutUint16(info[0:], e.Num)
	binary.NativeEndian.PutUint16(info[2:], e.Total)
	binary.NativeEndian.PutUint16(info[4:], uint16(e.Flag&QueueFlagMask))
	return netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_TARGET_NAME, Data: []byte("NFQUEUE\x00")},
		{Type: unix.NFTA_TARGET_REV, Data: binaryutil.BigEndian.PutUint32(3)},
		{Type: unix.NFTA_TARGET_INFO, Data: info},
	})
}

func (e *Queue) unmarshal(fam byte, data []byte) error {
	ad, err := netlink.NewAttributeDecoder(data)
	if err != nil {
		return err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_QUEUE_NUM:
			e.Num = ad.Uint16()
		case unix.NFTA_QUEUE_TOTAL:
			e.Total = ad.Uint16()
		case unix.NFTA_QUEUE_FLAGS:
			e.Flag = QueueFlag(ad.Uint16())
		}
	}
	return ad.Err()
}
